@testable import ClarmStorage
import ClarmEvents
import ClarmFuzzSupport

/// libFuzzer entry: the write-ahead log reader, and what recovery does with each record it returns.
///
/// Every input is read twice: as it is (the checksums stop nearly every mutation), and with each fragment's
/// checksum recomputed the way the writer would (`FuzzWAL.withValidChecksums`), so that the fragment
/// sequencing and the event records behind the checksum see damaged-but-checksummed bytes. In the second
/// pass the reader must never report a checksum mismatch.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWAL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(fuzzInput(data, size))
    FuzzWAL.read(input, checksummed: false)
    FuzzWAL.read(FuzzWAL.withValidChecksums(input), checksummed: true)
    return 0
}

enum FuzzWAL {
    static func read(_ bytes: [UInt8], checksummed: Bool) {
        var reader = LogReader(bytes: bytes, path: "wal.log")
        var payload = 0
        while let record = reader.next() {
            payload += record.count
            fuzzCheck(payload <= bytes.count, "records hold \(payload) bytes of a \(bytes.count)-byte log")
            replay(record)
        }
        switch reader.end {
        case .clean?:
            break
        case .tornTail(let offset)?:
            fuzzCheck(offset <= bytes.count, "torn tail at \(offset) of \(bytes.count)")
        case .corruption(let report)?:
            fuzzCheck(report.offset < bytes.count, "corruption at \(report.offset) of \(bytes.count)")
            fuzzCheck(!checksummed || report.reason != "checksum mismatch", "a recomputed checksum does not match at \(report.offset)")
        case nil:
            fuzzCheck(false, "the reader stopped without saying why")
        }
    }

    /// What recovery does with a record (`Shard.replay`): `kind u8 (1) | count u32 | event-record…`.
    static func replay(_ record: [UInt8]) {
        guard record.count >= 5, record[0] == 1 else { return }
        record.withUnsafeBytes { raw in
            withExactCopy(of: UnsafeRawBufferPointer(rebasing: raw[5...])) { body in
                EventRecordView.forEach(in: UnsafeRawBufferPointer(body)) { view in
                    fuzzCheck(view.length >= 4 && view.length <= body.count, "record of \(view.length) bytes")
                    let fields = (0..<EventRecord.fieldCount).map { view.field($0) }
                    guard fields.allSatisfy({ String(validating: $0, as: UTF8.self) != nil }) else { return }
                    var again: [UInt8] = []
                    view.record.append(to: &again)
                    if view.bytes[4] == EventRecord.version {
                        fuzzCheck(again.elementsEqual(view.bytes), "a record does not round-trip")
                    } else {
                        // A version 1 record is written again as the current version, unlocated.
                        let reread = again.withUnsafeBytes { EventRecordView($0)?.record }
                        fuzzCheck(reread == view.record, "a version 1 record does not read alike once written again")
                    }
                }
            }
        }
    }

    /// A copy of `input` in which every fragment the reader would reach carries the checksum the writer
    /// would have written (docs/FORMAT.md, "Write-ahead log"); a header of zero length and type gets a zero
    /// checksum, so it reads as the zero-filled end of the log, as it would after a crash.
    static func withValidChecksums(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        var position = 0
        while true {
            let blockLeft = LogFormat.blockSize - position % LogFormat.blockSize
            if blockLeft < LogFormat.headerSize {
                position += blockLeft
                continue
            }
            guard position + LogFormat.headerSize <= bytes.count else { break }
            let length = Int(bytes[position + 4]) | Int(bytes[position + 5]) << 8
            let type = bytes[position + 6]
            let payloadStart = position + LogFormat.headerSize
            guard length > 0 || type != 0 else {
                bytes.replaceSubrange(position..<(position + 4), with: [0, 0, 0, 0])
                break
            }
            guard length <= blockLeft - LogFormat.headerSize, payloadStart + length <= bytes.count else { break }
            let crc = bytes.withUnsafeBytes {
                LogFormat.crc(type: type, payload: UnsafeRawBufferPointer(rebasing: $0[payloadStart..<(payloadStart + length)]))
            }
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(position..<(position + 4), with: $0) }
            position = payloadStart + length
        }
        return bytes
    }
}
