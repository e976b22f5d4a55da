import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// The format's bounds: no block over `SegmentFormat.maxBlockBytes`, a writer that throws instead of trapping,
/// readers that reject declared sizes and counts past the bounds before using them, and `verify()`.
@Suite struct SegmentBoundsTests {
    func write(_ image: [UInt8], in directory: TemporaryDirectory, name: String = "seg-0000000000000001.cseg") throws -> String {
        let path = directory.path + "/" + name
        let file = try PosixFileSystem().create(path)
        try image.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        file.close()
        return path
    }

    func build(_ events: [EventRecord], blockLimit: Int = SegmentFormat.maxBlockBytes) throws -> [UInt8] {
        try encode(events).withUnsafeBytes { try SegmentWriter.build(records: $0, walCovered: 1, blockLimit: blockLimit).image }
    }

    func reason(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    /// The footer's byte range, from the tail.
    func footerRange(_ image: [UInt8]) -> Range<Int> {
        let offset = Int(image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: image.count - 24, as: UInt64.self) })
        let length = Int(image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: image.count - 16, as: UInt32.self) })
        return offset..<(offset + length)
    }

    /// Rewrites the footer CRC after a change inside the footer, so only the checks behind it can object.
    func fixFooterChecksum(_ image: inout [UInt8]) {
        let range = footerRange(image)
        let crc = image.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[range])) }
        let at = image.count - 12
        image.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: at, as: UInt32.self) }
    }

    @Test func largeDictionariesSpanBoundedBlocks() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Five distinct 100 KiB referrers under a 256 KiB block limit: at least three dictionary blocks, two
        // values each at most. (The real limit is 16 MiB; the splitting is the same.)
        let limit = 256 << 10
        let events = (0..<10).map { n in
            EventRecord(timestamp: 1_000 + Int64(n), receivedAt: 0, event: "custom", visitorID: "v\(n % 3)",
                        url: "https://a.example/p", referrer: "https://r.example/\(n % 5)/" + String(repeating: "x", count: 100 << 10),
                        site: "a.example")
        }
        let segment = try Segment(path: try write(try build(events, blockLimit: limit), in: directory))
        let referrers = try segment.column(.referrer)
        #expect(referrers.dictionaryBlocks.count >= 3)
        #expect(referrers.dictionaryCount == 5)
        for column in segment.columns {
            for ref in column.blocks + column.dictionaryBlocks.map(\.ref) {
                #expect(ref.rawLength <= limit)
            }
        }
        try segment.verify()
        let expectedOrder = events.enumerated().sorted { a, b in
            let va = a.offset % 3, vb = b.offset % 3
            return va != vb ? va < vb : a.offset < b.offset
        }.map { stored($0.element) }
        #expect(try segment.records() == expectedOrder)
    }

    @Test func aValueOverTheBlockLimitIsAnErrorNotATrap() throws {
        let huge = String(repeating: "y", count: SegmentFormat.maxBlockBytes)
        let event = EventRecord(timestamp: 1, receivedAt: 0, event: "custom", visitorID: "v", url: "https://a.example/",
                                properties: #"{"pad":"\#(huge)"}"#, site: "a.example")
        #expect(reason { _ = try build([event]) }.contains("exceeds the \(SegmentFormat.maxBlockBytes)-byte block limit"))
    }

    @Test func declaredSizesPastTheLimitsAreRejectedAtOpen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let image = try build((0..<100).map { makeEvent($0) })
        let footer = footerRange(image)
        // The timestamp column comes first: u16 length + "timestamp" + encoding + width, blockCount, then a
        // blockref (offset u64, storedLength u32, rawLength u32, crc u32).
        let rawLengthAt = footer.lowerBound + 4 + 2 + 9 + 2 + 4 + 8 + 4
        var oversized = image
        oversized.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(SegmentFormat.maxBlockBytes + 1).littleEndian, toByteOffset: rawLengthAt, as: UInt32.self) }
        fixFooterChecksum(&oversized)
        let path = try write(oversized, in: directory)
        #expect(reason { _ = try Segment(path: path) }.contains("over the \(SegmentFormat.maxBlockBytes)-byte limit"))

        // A row count near Int.max must be refused, not overflow the block arithmetic. It sits after the columns:
        // find it as the footer's u64 that equals the true row count, right before rowsPerBlock.
        for declared: UInt64 in [UInt64.max, UInt64(Int.max), UInt64(SegmentFormat.maxRows) + 1] {
            var bad = image
            let at = rowCountOffset(image, rows: 100)
            bad.withUnsafeMutableBytes { $0.storeBytes(of: declared.littleEndian, toByteOffset: at, as: UInt64.self) }
            fixFooterChecksum(&bad)
            let path = try write(bad, in: directory)
            #expect(reason { _ = try Segment(path: path) }.contains("bad row counts"))
        }
    }

    func rowCountOffset(_ image: [UInt8], rows: UInt64) -> Int {
        let footer = footerRange(image)
        let needle = withUnsafeBytes(of: rows.littleEndian) { Array($0) } + withUnsafeBytes(of: UInt32(SegmentFormat.rowsPerBlock).littleEndian) { Array($0) }
        for at in footer where at + needle.count <= footer.upperBound && Array(image[at..<(at + needle.count)]) == needle {
            return at
        }
        Issue.record("row count not found in the footer")
        return footer.lowerBound
    }

    @Test func verifyCatchesAZoneMapThatLies() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var image = try build((0..<100).map { makeEvent($0) })
        // The zone maps follow rowCount u64 and rowsPerBlock u32; the footer CRC is fixed up, the file CRC is untouched.
        let zoneAt = rowCountOffset(image, rows: 100) + 12
        image.withUnsafeMutableBytes { $0.storeBytes(of: Int64(7).littleEndian, toByteOffset: zoneAt, as: Int64.self) }
        fixFooterChecksum(&image)
        let segment = try Segment(path: try write(image, in: directory))
        #expect(reason { try segment.verify() }.contains("zone map does not match"))
    }

    /// Segments written before dictionaries spanned blocks (version 1) still open and read back the same.
    @Test func versionOneSegmentsStillRead() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let events = (0..<3_000).map { makeEvent($0, visitors: 31) }
        let current = try Segment(path: try write(try build(events), in: directory, name: "seg-0000000000000001.cseg"))
        let legacy = try Segment(path: try write(try versionOne(try build(events)), in: directory, name: "seg-0000000000000002.cseg"))
        #expect(legacy.version == 1)
        try legacy.verify()
        #expect(try legacy.records() == current.records())
    }

    /// Rewrites a version-2 image whose dictionaries have one block each into the version-1 layout.
    func versionOne(_ image: [UInt8]) throws -> [UInt8] {
        let footer = footerRange(image)
        var out = Array(image[0..<footer.lowerBound])
        out.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(1).littleEndian, toByteOffset: 4, as: UInt32.self) }
        var cursor = footer.lowerBound
        func take(_ n: Int) -> [UInt8] { defer { cursor += n }; return Array(image[cursor..<(cursor + n)]) }
        func u32(_ bytes: [UInt8]) -> Int { Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) }
        var newFooter: [UInt8] = []
        let columns = take(4)
        newFooter += columns
        for _ in 0..<u32(columns) {
            let nameLength = take(2)
            newFooter += nameLength + take(Int(nameLength[0]) | Int(nameLength[1]) << 8)
            let encodingAndWidth = take(2)
            newFooter += encodingAndWidth
            if encodingAndWidth[0] == 1 {
                let count = take(4)
                #expect(u32(take(4)) == 1)
                let ref = take(20)
                _ = take(4)
                newFooter += ref + count
            }
            let blocks = take(4)
            newFooter += blocks + take(20 * u32(blocks))
        }
        newFooter += Array(image[cursor..<footer.upperBound])
        let fileCRC = out.withUnsafeBytes { CRC32C.checksum($0) }
        let footerCRC = newFooter.withUnsafeBytes { CRC32C.checksum($0) }
        let footerOffset = UInt64(out.count)
        out += newFooter
        withUnsafeBytes(of: footerOffset.littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt32(newFooter.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: footerCRC.littleEndian) { out += $0 }
        withUnsafeBytes(of: fileCRC.littleEndian) { out += $0 }
        out += Array("CLSE".utf8)
        return out
    }
}
