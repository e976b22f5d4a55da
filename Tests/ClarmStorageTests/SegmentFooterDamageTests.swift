import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// Footers that are damaged but carry a valid checksum (what fuzz-segment feeds the reader): each is refused
/// as corruption, never a trap, an overread or a huge allocation. Inputs found by fuzzing, in Fuzz/Corpus/segment.
@Suite struct SegmentFooterDamageTests {
    /// A segment of `count` events (in the version-1 layout if `versionOne`) whose footer `edit` changes, with
    /// the footer length and CRC made right again.
    func damagedSegment(events count: Int, versionOne: Bool = false, in directory: TemporaryDirectory,
                        _ edit: (inout [UInt8]) -> Void) throws -> String {
        var image = try encode((0..<count).map { makeEvent($0) }).withUnsafeBytes { try SegmentWriter.build(records: $0, walCovered: 1).image }
        if versionOne { image = try SegmentBoundsTests().versionOne(image) }
        let tail = image.count - SegmentFormat.tailSize
        let footerOffset = Int(image.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: tail, as: UInt64.self) })
        var footer = Array(image[footerOffset..<tail])
        edit(&footer)
        let trailer = Array(image[tail...])
        image.replaceSubrange(footerOffset..., with: footer + trailer)
        let newTail = footerOffset + footer.count
        image.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(footer.count).littleEndian, toByteOffset: newTail + 8, as: UInt32.self)
            raw.storeBytes(of: footer.withUnsafeBytes { CRC32C.checksum($0) }.littleEndian, toByteOffset: newTail + 12, as: UInt32.self)
        }
        let path = directory.path + "/seg-0000000000000001.cseg"
        let file = try PosixFileSystem().create(path)
        try image.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        file.close()
        return path
    }

    func reason(_ body: () throws -> Void) -> String {
        do { try body() } catch let error as SegmentCorruption { return error.reason } catch { return "\(error)" }
        return "no error"
    }

    /// Only the columns added later may be missing: a required one renamed away fails verification (found by
    /// fuzz-segment), while a missing `country` reads as empty.
    @Test func aMissingRequiredColumnFailsVerification() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        func renamed(_ name: String, to other: String) throws -> Segment {
            let path = try damagedSegment(events: 3, in: directory) { footer in
                let bytes = Array(name.utf8)
                let at = (0...(footer.count - bytes.count)).first { footer[$0..<($0 + bytes.count)].elementsEqual(bytes) }!
                footer.replaceSubrange(at..<(at + bytes.count), with: Array(other.utf8))
            }
            return try Segment(path: path)
        }
        let noAgent = try renamed("user_agent", to: "user_agenu")
        #expect(reason { try noAgent.verify() } == "no column user_agent")
        try PosixFileSystem().remove(directory.path + "/seg-0000000000000001.cseg")
        let noCountry = try renamed("country", to: "countrz")
        try noCountry.verify()
        #expect(try noCountry.records().allSatisfy { $0.country.isEmpty })
    }

    @Test func rowCountThatOverflowsIsCorruption() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Footer end: … rowCount u64 | rowsPerBlock u32 | one zone (16) | replacedCount u32 | walCovered, min, max (24).
        let path = try damagedSegment(events: 3, in: directory) { footer in
            let rowCountAt = footer.count - 56
            footer.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(Int.max).littleEndian, toByteOffset: rowCountAt, as: UInt64.self) }
        }
        #expect(reason { _ = try Segment(path: path) }.hasPrefix("bad row counts (\(Int.max) rows"))
    }

    @Test func idsOfAColumnThatIsNotDictionaryEncodedAreCorruption() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Rename the timestamp column (delta-encoded, 12 bytes of varints for 4 rows) to "site" with 3-byte ids:
        // 4 rows × 3 bytes matches its size, and 4-byte reads of 3-byte ids would run past the block.
        let path = try damagedSegment(events: 4, in: directory) { footer in
            #expect(footer[4..<6] == [9, 0] && footer[6..<15].elementsEqual("timestamp".utf8))
            footer.replaceSubrange(4..<17, with: [4, 0] + Array("site".utf8) + [SegmentFormat.Encoding.delta.rawValue, 3])
        }
        let segment = try Segment(path: path)
        var ids: [UInt32] = []
        #expect(reason { try segment.ids(.site, block: 0, into: &ids) } == "column site is not dictionary-encoded")
    }

    @Test func rawLengthBeyondWhatLZ4CanExpandIsRefusedBeforeAllocating() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Version 1 allows raw lengths up to 1 GiB. The timestamp column's only block reference follows its name,
        // encoding and width and block count.
        let path = try damagedSegment(events: 3, versionOne: true, in: directory) { footer in
            footer.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(1 << 30).littleEndian, toByteOffset: 4 + 2 + 9 + 2 + 4 + 12, as: UInt32.self) }
        }
        let segment = try Segment(path: path)
        var scratch: [UInt8] = []
        let timestamp = try segment.column(.timestamp)
        #expect(reason { try segment.decode(timestamp.blocks[0], column: "timestamp", block: "block 0", into: &scratch) }
                == "column timestamp, block 0: implausible size")
        #expect(scratch.capacity < 1 << 20)
    }

    @Test func dictionaryCountBeyondItsBlockIsRefusedBeforeReserving() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Version 1: after the timestamp column (41 bytes from the column count on), visitor_id holds
        // nameLength u16 | name | encoding, width | dictionary blockref | dictionaryCount u32. Reserving for the
        // count before reading the block would ask for 32 GiB.
        let path = try damagedSegment(events: 3, versionOne: true, in: directory) { footer in
            #expect(footer[41..<43] == [10, 0] && footer[43..<53].elementsEqual("visitor_id".utf8))
            footer.withUnsafeMutableBytes { $0.storeBytes(of: (UInt32.max - 1).littleEndian, toByteOffset: 41 + 2 + 10 + 2 + 20, as: UInt32.self) }
        }
        let segment = try Segment(path: path)
        #expect(reason { _ = try segment.dictionary(.visitor_id) } == "column visitor_id, dictionary block 0: too short")
    }
}
