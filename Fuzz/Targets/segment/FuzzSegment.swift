import ClarmEvents
import ClarmFuzzSupport
import ClarmStorage
import Glibc

/// libFuzzer entry: the segment reader over a segment image, opened from a file as the store does.
///
/// Every input is opened twice: as it is, and with every block CRC, the footer CRC and the file CRC
/// recomputed (`SegmentImage.withValidChecksums`), so that the footer parser and the block decoders behind
/// the checksums see damaged-but-checksummed bytes. Then every column, dictionary and block is read through
/// each public reader; failures must be thrown `SegmentCorruption`s, never traps or overreads.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSegment(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(fuzzInput(data, size))
    FuzzSegment.read(input, checksummed: false)
    FuzzSegment.read(SegmentImage.withValidChecksums(input), checksummed: true)
    return 0
}

enum FuzzSegment {
    /// A file in memory-backed /dev/shm (or /tmp), one per process so that parallel fuzzers do not collide;
    /// removed when the process exits normally (a crashed run leaves it for the replay).
    static let path: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        atexit { try? PosixFileSystem().remove(FuzzSegment.path) }
        return "\(base)/clarm-fuzz-segment-\(getpid()).cseg"
    }()

    static func read(_ image: [UInt8], checksummed: Bool) {
        let fs = PosixFileSystem()
        do {
            let file = try fs.create(path)
            try image.withUnsafeBytes { try file.append($0) }
            file.close()
        } catch {
            fatalError("cannot write \(path): \(error)")
        }
        guard let segment = try? Segment(path: path) else { return }
        do throws(SegmentCorruption) {
            try segment.verifyFileChecksum()
        } catch {
            fuzzCheck(!checksummed, "recomputed file checksum rejected: \(error)")
        }
        var scratch: [UInt8] = []
        for column in segment.columns {
            for ref in column.blocks + column.dictionaryBlocks.map(\.ref) {
                do throws(SegmentCorruption) {
                    try segment.decode(ref, column: column.name, block: "a block", into: &scratch)
                    fuzzCheck(scratch.count == ref.rawLength, "decoded \(scratch.count) bytes of \(ref.rawLength)")
                } catch {
                    fuzzCheck(!checksummed || !error.reason.hasSuffix("checksum mismatch"), "recomputed block checksum rejected: \(error)")
                }
            }
        }
        // `verify()` promises that a segment it passes reads back completely.
        let verified = (try? segment.verify()) != nil
        var ids: [UInt32] = []
        var timestamps: [Int64] = []
        for column in SegmentFormat.Column.allCases {
            if column.encoding == .dictionary {
                let dictionary = try? segment.dictionary(column)
                fuzzCheck(!verified || dictionary != nil, "verified, but the \(column.rawValue) dictionary does not read")
                for id in 0..<(dictionary?.count ?? 0) { _ = dictionary!.value(id) }
            }
            for block in 0..<segment.blockCount {
                if column.encoding == .dictionary {
                    let read = (try? segment.ids(column, block: block, into: &ids)) != nil
                    fuzzCheck(!verified || read, "verified, but ids of \(column.rawValue), block \(block) do not read")
                    guard read else { continue }
                    fuzzCheck(ids.count == segment.rowsIn(block: block), "\(ids.count) ids in block \(block)")
                } else {
                    let read = (try? segment.timestamps(block: block, into: &timestamps)) != nil
                    fuzzCheck(!verified || read, "verified, but timestamps of block \(block) do not read")
                    guard read else { continue }
                    fuzzCheck(timestamps.count == segment.rowsIn(block: block), "\(timestamps.count) timestamps in block \(block)")
                }
            }
        }
        let records = try? segment.records()
        fuzzCheck(!verified || records != nil, "verified, but records() fails")
        if let records {
            fuzzCheck(records.count == segment.rowCount, "\(records.count) records of \(segment.rowCount) rows")
        }
    }
}
