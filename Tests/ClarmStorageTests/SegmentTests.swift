import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

@Suite struct SegmentTests {
    func writeSegment(_ events: [EventRecord], in directory: TemporaryDirectory, covered: UInt64 = 9) throws -> String {
        let image = try encode(events).withUnsafeBytes { try SegmentWriter.build(records: $0, walCovered: covered).image }
        let path = directory.path + "/seg.cseg"
        let file = try PosixFileSystem().create(path)
        try image.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        file.close()
        return path
    }

    @Test func roundTripsEveryColumn() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var events = (0..<40_000).map { makeEvent($0, visitors: 997) }
        events.append(EventRecord(timestamp: 5, receivedAt: 6, event: "custom \u{1F600}", visitorID: "v\"q",
                                  url: "not a url", properties: #"{"amount":"12","value":{"nested":[1,2]},"email":"a\u0040b.c"}"#, site: "s"))
        let segment = try Segment(path: try writeSegment(events, in: directory))
        #expect(segment.rowCount == events.count)
        #expect(segment.walCovered == 9)
        #expect(segment.blockCount == 3)
        #expect(segment.minTimestamp == 5)
        #expect(segment.maxTimestamp == events.map(\.timestamp).max())
        // Visitors in order of first arrival, each visitor's events by time, then arrival.
        var firstArrival: [String: Int] = [:]
        for (i, event) in events.enumerated() where firstArrival[event.visitorID] == nil { firstArrival[event.visitorID] = i }
        let expected = events.enumerated().sorted { a, b in
            firstArrival[a.element.visitorID]! != firstArrival[b.element.visitorID]! ? firstArrival[a.element.visitorID]! < firstArrival[b.element.visitorID]!
                : a.element.timestamp != b.element.timestamp ? a.element.timestamp < b.element.timestamp : a.offset < b.offset
        }.map { stored($0.element) }
        #expect(try segment.records() == expected)
        try segment.verifyFileChecksum()
        for block in 0..<segment.blockCount {
            var timestamps: [Int64] = []
            try segment.timestamps(block: block, into: &timestamps)
            #expect(timestamps.min() == segment.zones[block].min)
            #expect(timestamps.max() == segment.zones[block].max)
        }
    }

    @Test func columnIndexesFollowTheColumnOrder() {
        #expect(SegmentFormat.Column.allCases.enumerated().allSatisfy { $0.offset == $0.element.index })
    }

    @Test func extractsDashboardProperties() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let event = EventRecord(timestamp: 1, receivedAt: 1, event: "purchase", visitorID: "v", url: "https://a.com/x",
                                properties: #"{"currency":"EUR","amount":49.90,"plan":"pro\u00e9","email":"x@y.z","name":null,"company":true,"goal":"g","value":[1]}"#,
                                site: "a.com")
        let segment = try Segment(path: try writeSegment([event], in: directory))
        func text(_ column: SegmentFormat.Column) throws -> String {
            var ids: [UInt32] = []
            try segment.ids(column, block: 0, into: &ids)
            return String(decoding: try segment.dictionary(column).value(Int(ids[0])), as: UTF8.self)
        }
        #expect(try text(.amount) == "49.90")
        #expect(try text(.currency) == "EUR")
        #expect(try text(.plan) == "proé")
        #expect(try text(.email) == "x@y.z")
        #expect(try text(.name) == "null")
        #expect(try text(.company) == "true")
        #expect(try text(.goal) == "g")
        #expect(try text(.value) == "[1]")
        #expect(try text(.origin) == "https://a.com")
        #expect(try text(.path) == "/x")
        #expect(try text(.rest) == "")
    }

    @Test func truncatedFilesAreCorruptionNeverACrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = try writeSegment((0..<500).map { makeEvent($0) }, in: directory)
        let image = try PosixFileSystem().readAll(path)
        for cut in stride(from: 0, to: image.count, by: max(1, image.count / 300)) {
            let file = try PosixFileSystem().create(path)
            try Array(image[0..<cut]).withBytes { raw throws(StorageIOError) in try file.append(raw) }
            file.close()
            #expect(throws: SegmentCorruption.self) { _ = try Segment(path: path).records() }
        }
    }

    @Test func damageIsReportedWithItsPlace() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = try writeSegment((0..<2000).map { makeEvent($0) }, in: directory)
        let image = try PosixFileSystem().readAll(path)
        func rewrite(_ bytes: [UInt8]) throws {
            let file = try PosixFileSystem().create(path)
            try bytes.withBytes { raw throws(StorageIOError) in try file.append(raw) }
            file.close()
        }
        func reason(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }

        let firstBlock = try Segment(path: path).columns[0].blocks[0]
        var badMagic = image
        badMagic[0] = UInt8(ascii: "X")
        try rewrite(badMagic)
        #expect(reason { _ = try Segment(path: path) }.contains("bad header magic"))

        // A flipped bit inside the first data block: the block's checksum names the column and block.
        var flipped = image
        flipped[firstBlock.offset + 1] ^= 0x10
        try rewrite(flipped)
        let damaged = try Segment(path: path)
        #expect(reason { _ = try damaged.records() }.contains("column timestamp, block 0: checksum mismatch"))
        #expect(reason { try damaged.verifyFileChecksum() }.contains("file checksum mismatch"))

        // An oversized declared length, with the footer checksum fixed so that only the bounds check can catch it.
        var oversized = image
        let footerOffset = Int(image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: image.count - 24, as: UInt64.self) })
        let footerLength = Int(image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: image.count - 16, as: UInt32.self) })
        // First column is "timestamp" (u16 length + 9 bytes + encoding + width), then blockCount, then the first blockref.
        let storedLengthAt = footerOffset + 4 + 2 + 9 + 2 + 4 + 8
        oversized.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(0x7FFF_FFFF).littleEndian, toByteOffset: storedLengthAt, as: UInt32.self) }
        let crc = oversized.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[footerOffset..<(footerOffset + footerLength)])) }
        oversized.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: image.count - 12, as: UInt32.self) }
        try rewrite(oversized)
        #expect(reason { _ = try Segment(path: path) }.contains("lies outside the data"))

        var footerDamage = image
        footerDamage[footerOffset + 3] ^= 1
        try rewrite(footerDamage)
        #expect(reason { _ = try Segment(path: path) }.contains("footer checksum mismatch"))
    }

    @Test func randomDamageNeverCrashes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = try writeSegment((0..<300).map { makeEvent($0) }, in: directory)
        let image = try PosixFileSystem().readAll(path)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var damaged = image
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let file = try PosixFileSystem().create(path)
            try damaged.withBytes { raw throws(StorageIOError) in try file.append(raw) }
            file.close()
            _ = try? Segment(path: path).records()
        }
    }
}
