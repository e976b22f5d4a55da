import Foundation
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// The seed corpora of the storage fuzz targets (Fuzz/Corpus/wal, Fuzz/Corpus/segment) are files the
/// writers produce. `CLARM_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedTests` rewrites them (after a format
/// change); otherwise the test checks that the committed ones still read cleanly. Inputs the fuzzers found
/// (`crash-*`, `oom-*`) sit beside them and are not checked here, nor are `before-location`, written before events
/// had a location and kept as they were (LocationStorageTests reads them).
@Suite struct FuzzSeedTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    /// A WAL record as the shards write it: `kind u8 (1) | count u32 | event-record…`.
    static func walRecord(_ events: ArraySlice<EventRecord>) -> [UInt8] {
        var record: [UInt8] = [1]
        withUnsafeBytes(of: UInt32(events.count).littleEndian) { record.append(contentsOf: $0) }
        return record + encode(Array(events))
    }

    static func walSeeds() throws -> [String: [UInt8]] {
        let events = generateEvents(seed: 11, visitors: 4)
        let batches = try logImage([walRecord(events[0..<3]), walRecord(events[3..<4]), walRecord(events[4..<9])])
        var large = makeEvent(1)
        large.properties = #"{"note":"\#(String(repeating: "x", count: LogFormat.blockSize))"}"#
        // Small records first, so that the large one starts inside the first block and ends in the second.
        let spanning = try logImage([walRecord(events[0..<2]), walRecord([large][...]), walRecord(events[2..<3])])
        return [
            "batches": batches,
            "torn-tail": Array(batches.dropLast(9)),
            "zero-tail": batches + [UInt8](repeating: 0, count: 40),
            "spanning": spanning,
            "located": try logImage([walRecord(GeoIPFixture.locate(Array(events[0..<9])).map(\.event)[...])]),
        ]
    }

    static func segmentSeeds() throws -> [String: [UInt8]] {
        func build(_ events: [EventRecord], walCovered: UInt64 = 1, replaces: [UInt64] = [],
                   blockLimit: Int = SegmentFormat.maxBlockBytes) throws -> [UInt8] {
            try encode(events).withUnsafeBytes {
                try SegmentWriter.build(records: $0, walCovered: walCovered, replaces: replaces, blockLimit: blockLimit).image
            }
        }
        // Four distinct 200-byte referrers under a 512-byte block limit: dictionaries over several blocks.
        let longReferrers = (0..<8).map { n in
            EventRecord(timestamp: 1_000 + Int64(n), receivedAt: 0, event: "custom", visitorID: "v\(n % 3)",
                        url: "https://a.example/p", referrer: "https://r.example/\(n % 4)/" + String(repeating: "x", count: 200),
                        site: "a.example")
        }
        let threeEvents = try build((0..<3).map { makeEvent($0) })
        return [
            "three-events": threeEvents,
            "generated": try build(generateEvents(seed: 5, visitors: 6), walCovered: 4),
            "compacted": try build((0..<12).map { makeEvent($0, visitors: 3) }, walCovered: 9, replaces: [2, 3]),
            "spanning-dictionaries": try build(longReferrers, blockLimit: 512),
            "located": try build(GeoIPFixture.locate(generateEvents(seed: 6, visitors: 5)).map(\.event)),
            // Readers still accept version 1 (one dictionary block per column, docs/FORMAT.md).
            "version-one": try SegmentBoundsTests().versionOne(threeEvents),
        ]
    }

    @Test func storageSeedsReadCleanly() throws {
        let wal = Self.corpus.appendingPathComponent("wal"), segment = Self.corpus.appendingPathComponent("segment")
        if ProcessInfo.processInfo.environment["CLARM_WRITE_FUZZ_SEEDS"] != nil {
            for (directory, seeds) in [(wal, try Self.walSeeds()), (segment, try Self.segmentSeeds())] {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for (name, bytes) in seeds { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
            }
        }
        for name in try Self.walSeeds().keys {
            let (records, end) = readLog(Array(try Data(contentsOf: wal.appendingPathComponent(name))))
            #expect(!records.isEmpty, "\(name)")
            #expect(end == .clean || name == "torn-tail", "\(name): \(String(describing: end))")
        }
        for name in try Self.segmentSeeds().keys {
            let opened = try Segment(path: segment.appendingPathComponent(name).path)
            try opened.verify()
            #expect(try opened.records().count == opened.rowCount && opened.rowCount > 0, "\(name)")
        }
    }
}
