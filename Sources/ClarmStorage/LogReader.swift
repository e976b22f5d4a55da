/// Reads the records of a write-ahead log image, dropping a torn tail and stopping at corruption.
struct LogReader {
    enum End: Equatable {
        /// The log ended cleanly (or with a zero-filled tail).
        case clean
        /// The last record was cut short by a crash; it was dropped.
        case tornTail(offset: Int)
        /// Damage before the end; records from here on are not read.
        case corruption(CorruptionReport)
    }

    private let bytes: [UInt8]
    private let path: String
    /// The file offset of `bytes[0]`: a multiple of the block size, so block boundaries stay where they are.
    private let origin: Int
    private var position: Int
    private var record: [UInt8] = []
    private(set) var end: End? = nil

    /// Reads `bytes`, the log from file offset `origin` on, starting at file offset `start` (a record boundary).
    init(bytes: [UInt8], path: String, origin: Int = 0, start: Int = 0) {
        precondition(origin % LogFormat.blockSize == 0 && start >= origin)
        self.bytes = bytes
        self.path = path
        self.origin = origin
        self.position = start - origin
    }

    /// The file offset just past the last record returned: where the next one starts.
    var offset: Int { origin + position }

    /// The next whole record, or nil at the end (then `end` says why).
    mutating func next() -> [UInt8]? {
        record.removeAll(keepingCapacity: true)
        var inRecord = false
        var recordStart = position
        while true {
            let blockLeft = LogFormat.blockSize - position % LogFormat.blockSize
            if blockLeft < LogFormat.headerSize {
                position += blockLeft
                continue
            }
            if position >= bytes.count {
                end = inRecord ? .tornTail(offset: recordStart) : .clean
                return nil
            }
            if position + LogFormat.headerSize > bytes.count {
                end = allZero(from: position) && !inRecord ? .clean : .tornTail(offset: inRecord ? recordStart : position)
                return nil
            }
            let storedCRC = load(UInt32.self, at: position)
            let length = Int(load(UInt16.self, at: position + 4))
            let typeByte = bytes[position + 6]
            if storedCRC == 0 && length == 0 && typeByte == 0 {
                // Zero-filled tail: the writer pre-allocated or the file system zero-filled after a crash.
                end = allZero(from: position) ? (inRecord ? .tornTail(offset: recordStart) : .clean)
                    : .corruption(report(position, "zero fragment header before the end of the log"))
                return nil
            }
            let payloadStart = position + LogFormat.headerSize
            if payloadStart + length > bytes.count {
                end = .tornTail(offset: inRecord ? recordStart : position)
                return nil
            }
            if length > blockLeft - LogFormat.headerSize {
                end = .corruption(report(position, "fragment length \(length) runs past its block"))
                return nil
            }
            let crc = bytes.withUnsafeBytes {
                LogFormat.crc(type: typeByte, payload: UnsafeRawBufferPointer(rebasing: $0[payloadStart..<(payloadStart + length)]))
            }
            if crc != storedCRC {
                // A bad checksum on the very last fragment is a write the crash cut short; anywhere else it is damage.
                end = payloadStart + length == bytes.count || allZero(from: payloadStart + length)
                    ? .tornTail(offset: inRecord ? recordStart : position)
                    : .corruption(report(position, "checksum mismatch"))
                return nil
            }
            guard let type = LogFormat.FragmentType(rawValue: typeByte) else {
                end = .corruption(report(position, "unknown fragment type \(typeByte)"))
                return nil
            }
            switch (type, inRecord) {
            case (.full, false), (.first, false):
                recordStart = position
            case (.middle, true), (.last, true):
                break
            default:
                end = .corruption(report(position, "fragment of type \(typeByte) out of sequence"))
                return nil
            }
            record.append(contentsOf: bytes[payloadStart..<(payloadStart + length)])
            position = payloadStart + length
            switch type {
            case .full, .last: return record
            case .first, .middle: inRecord = true
            }
        }
    }

    private func allZero(from offset: Int) -> Bool {
        offset >= bytes.count || bytes[offset...].allSatisfy { $0 == 0 }
    }

    private func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    private func report(_ offset: Int, _ reason: String) -> CorruptionReport {
        CorruptionReport(path: path, offset: origin + offset, reason: reason)
    }
}
