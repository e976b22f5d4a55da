import Foundation
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// The location columns (docs/FORMAT.md): kept through the log, seals, compaction and purge; segments and log
/// records written before them read as unlocated.
@Suite struct LocationStorageTests {
    /// A segment written before the location columns (a fuzz seed kept as it was).
    static let legacySegment = FuzzSeedTests.corpus.appendingPathComponent("segment/before-location").path

    /// What the location tests compare: one line per event, location included, in a stable order.
    static func lines(_ events: [EventRecord]) -> [String] {
        events.map { "\($0.visitorID) \($0.timestamp) \($0.event) \($0.url) [\($0.country)|\($0.region)|\($0.city)]" }.sorted()
    }

    static func located(seed: UInt64, visitors: Int) -> [EventRecord] {
        GeoIPFixture.locate(generateEvents(seed: seed, visitors: visitors)).map(\.event)
    }

    @Test func legacySegmentsAndLogsReadUnlocated() throws {
        let segment = try Segment(path: Self.legacySegment)
        #expect(!segment.has(.country) && !segment.has(.region) && !segment.has(.city))
        try segment.verify()
        let records = try segment.records()
        #expect(records.count == segment.rowCount && !records.isEmpty)
        #expect(records.allSatisfy { $0.country.isEmpty && $0.region.isEmpty && $0.city.isEmpty })
        #expect(try segment.dictionary(.city).count == 1)
        var ids: [UInt32] = []
        try segment.ids(.region, block: 0, into: &ids)
        #expect(ids == Array(repeating: 0, count: segment.rowsIn(block: 0)))

        let log = Array(try Data(contentsOf: FuzzSeedTests.corpus.appendingPathComponent("wal/before-location")))
        let (logRecords, end) = readLog(log)
        #expect(end == .clean && !logRecords.isEmpty)
        for record in logRecords {
            let events = try record.dropFirst(5).withUnsafeBytes { try EventRecord.decodeAll($0) }
            #expect(!events.isEmpty && events.allSatisfy { $0.country.isEmpty && $0.city.isEmpty })
        }
    }

    /// A data directory's log from before the location replays, and its events are sealed unlocated.
    @Test func aLogOfVersionOneRecordsReplays() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        try Store(directory: directory.path, options: options).close()
        let seed = FuzzSeedTests.corpus.appendingPathComponent("wal/before-location").path
        try FileManager.default.copyItem(atPath: seed, toPath: directory.path + "/shard-000/wal-0000000000000099.log")
        let logged = readLog(Array(try Data(contentsOf: URL(fileURLWithPath: seed)))).records
            .flatMap { try! $0.dropFirst(5).withUnsafeBytes { try EventRecord.decodeAll($0) } }
        let store = try Store(directory: directory.path, options: options)
        #expect(Self.lines(try store.allEvents()) == Self.lines(logged), "replayed")
        store.close()
        let sealed = try Store(directory: directory.path, options: options)
        defer { sealed.close() }
        #expect(sealed.snapshot()[0].segments.count == 1)
        #expect(Self.lines(try sealed.allEvents()) == Self.lines(logged), "sealed")
        #expect(try sealed.allEvents().allSatisfy { $0.country.isEmpty && $0.region.isEmpty && $0.city.isEmpty })
    }

    @Test func theLogsReplayAndTheSegmentsKeepTheLocation() throws {
        let directory = TemporaryDirectory(), crashed = TemporaryDirectory()
        defer { directory.remove(); crashed.remove() }
        let events = Self.located(seed: 21, visitors: 30)
        #expect(events.contains { !$0.city.isEmpty } && events.contains { $0.country.isEmpty })
        var options = StoreOptions()
        options.shards = 2
        let store = try Store(directory: directory.path, options: options)
        _ = store.appendAndWait(events)
        // The directory as a crash now would leave it: every event only in the logs.
        try FileManager.default.removeItem(atPath: crashed.path)
        try FileManager.default.copyItem(atPath: directory.path, toPath: crashed.path)
        store.close()
        let recovered = try Store(directory: crashed.path, options: options)
        #expect(Self.lines(try recovered.allEvents()) == Self.lines(events), "replayed")
        recovered.close()
        let sealed = try Store(directory: directory.path, options: options)
        defer { sealed.close() }
        #expect(Self.lines(try sealed.allEvents()) == Self.lines(events), "sealed")
        for shard in sealed.snapshot() { for segment in shard.segments { try segment.verify() } }
    }

    /// An old segment merged with new ones, then rewritten by a purge: its rows stay unlocated, the new rows
    /// keep theirs, and every segment written has the columns.
    @Test func compactionAndPurgeRewriteOldSegments() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 40
        options.compactionFanIn = 3
        try Store(directory: directory.path, options: options).close()
        try FileManager.default.copyItem(atPath: Self.legacySegment, toPath: directory.path + "/shard-000/seg-0000000000000001.cseg")
        let old = try Segment(path: Self.legacySegment).records()

        let store = try Store(directory: directory.path, options: options)
        let new = Self.located(seed: 8, visitors: 25).filter { $0.site == "shop.example.com" }
        for start in stride(from: 0, to: new.count, by: 40) { _ = store.appendAndWait(Array(new[start..<min(start + 40, new.count)])) }
        #expect(waitFor { store.snapshot()[0].segments.contains { !$0.replaces.isEmpty && $0.replaces.contains(1) } }, "the old segment was merged")
        let expected = old + new
        #expect(Self.lines(try store.allEvents()) == Self.lines(expected))

        // Erase a visitor of the old segment: the purge rewrites the merged segment.
        let erased = old[0]
        try store.erase(site: erased.site, visitor: erased.visitorID)
        #expect(waitFor { !store.erasurePending(site: erased.site, visitor: erased.visitorID) }, "the purge ends")
        let kept = expected.filter { !($0.visitorID == erased.visitorID && $0.site == erased.site) }
        #expect(Self.lines(try store.allEvents()) == Self.lines(kept))
        for segment in store.snapshot()[0].segments {
            #expect(segment.has(.country) && segment.has(.region) && segment.has(.city))
            try segment.verify()
        }
        store.close()
    }
}
