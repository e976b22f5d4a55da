/// Appends records to a write-ahead log file as checksummed fragments in 32 KiB blocks.
///
/// `add` only encodes into a buffer; `write` issues it in one system call, so a group of records costs one
/// write and, with `sync`, one fsync.
public final class LogWriter {
    let file: AppendableFile
    private var blockOffset: Int
    private var pending: [UInt8] = []

    public init(file: AppendableFile) {
        self.file = file
        self.blockOffset = file.size % LogFormat.blockSize
        pending.reserveCapacity(256 * 1024)
    }

    var hasPending: Bool { !pending.isEmpty }

    /// Encodes one record, split into fragments where it crosses blocks.
    public func add(_ record: UnsafeRawBufferPointer) {
        var offset = 0
        var first = true
        repeat {
            let leftover = LogFormat.blockSize - blockOffset
            if leftover < LogFormat.headerSize {
                pending.append(contentsOf: repeatElement(0, count: leftover))
                blockOffset = 0
            }
            let room = LogFormat.blockSize - blockOffset - LogFormat.headerSize
            let length = min(room, record.count - offset)
            let end = offset + length == record.count
            let type: LogFormat.FragmentType = first ? (end ? .full : .first) : (end ? .last : .middle)
            let payload = UnsafeRawBufferPointer(rebasing: record[offset..<(offset + length)])
            let crc = LogFormat.crc(type: type.rawValue, payload: payload)
            withUnsafeBytes(of: crc.littleEndian) { pending.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt16(length).littleEndian) { pending.append(contentsOf: $0) }
            pending.append(type.rawValue)
            pending.append(contentsOf: payload)
            blockOffset += LogFormat.headerSize + length
            offset += length
            first = false
        } while offset < record.count
    }

    /// Writes what `add` encoded. On failure the file may hold part of it and must be abandoned.
    public func write() throws(StorageIOError) {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        try pending.withBytes { bytes throws(StorageIOError) in try file.append(bytes) }
    }

    public func sync() throws(StorageIOError) {
        try file.sync()
    }

    public func close() {
        file.close()
    }
}
