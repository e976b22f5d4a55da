import ClarmStorage
import Glibc

/// Where a replay of a time range stands: the range, and the last event sent (by timestamp, then key hash, then
/// rank among identical events).
struct ReplayProgress: Sendable, Equatable {
    let from: Int64
    let to: Int64
    var afterMilliseconds = Int64.min
    var afterKey = ""
    var afterOccurrence = 0

    /// Whether an event comes after the last one sent.
    func isAhead(_ event: ReplayEvent) -> Bool {
        (event.event.timestamp, event.hash, event.occurrence) > (afterMilliseconds, afterKey, afterOccurrence)
    }

    /// Past `event`, sent.
    mutating func move(past event: ReplayEvent) {
        afterMilliseconds = event.event.timestamp
        afterKey = event.hash
        afterOccurrence = event.occurrence
    }
}

/// `DATA/replays/<id>.replay` (docs/FORMAT.md, "Replays"): a replay of a time range in progress, replaced whole
/// at each step, so a restart resumes it.
enum ReplayFile {
    static let directoryName = "replays"
    static let magic = Array("CLRP".utf8)

    static func path(directory: String, destination: String) -> String {
        "\(directory)/\(directoryName)/\(destination).replay"
    }

    /// The replay in progress; nil when there is none. Throws when the file is damaged.
    static func load(directory: String, destination: String) throws(IntegrationError) -> ReplayProgress? {
        let path = path(directory: directory, destination: destination)
        let files = PosixFileSystem()
        guard files.exists(path) else { return nil }
        let bytes: [UInt8]
        do throws(StorageIOError) { bytes = try files.readAll(path) } catch { throw .notSaved("replay: \(error)") }
        var stored = ByteReader(data: Array(bytes.suffix(4)))
        guard bytes.count >= 4 + 1 + 24 + 1 + 4, bytes.prefix(4).elementsEqual(magic),
              Array(bytes.dropLast(4)).withUnsafeBytes({ CRC32C.mask(CRC32C.checksum($0)) }) == stored.u32() else {
            throw .notSaved("replay file \(path) is damaged")
        }
        var reader = ByteReader(data: bytes, offset: 4)
        // Version 1 files, written before identical events were ranked, have no rank: 0.
        guard let version = reader.u8(), version == 1 || version == 2, let from = reader.i64(), let to = reader.i64(),
              let after = reader.i64(), let keyLength = reader.u8(),
              reader.offset + Int(keyLength) + (version == 2 ? 4 : 0) + 4 == bytes.count else {
            throw .notSaved("replay file \(path) is damaged")
        }
        let key = String(decoding: bytes[reader.offset..<(reader.offset + Int(keyLength))], as: UTF8.self)
        reader.offset += Int(keyLength)
        let occurrence = version == 2 ? Int(reader.u32() ?? 0) : 0
        return ReplayProgress(from: from, to: to, afterMilliseconds: after, afterKey: key, afterOccurrence: occurrence)
    }

    static func save(_ progress: ReplayProgress, directory: String, destination: String) throws(IntegrationError) {
        var bytes = magic + [2]
        bytes.put(progress.from)
        bytes.put(progress.to)
        bytes.put(progress.afterMilliseconds)
        let key = Array(progress.afterKey.utf8.prefix(255))
        bytes.append(UInt8(key.count))
        bytes += key
        bytes.put(UInt32(clamping: progress.afterOccurrence))
        bytes.put(bytes.withUnsafeBytes { CRC32C.mask(CRC32C.checksum($0)) })
        try DurableFile.makeDirectory("\(directory)/\(directoryName)", mode: 0o700)
        try DurableFile.replace(path(directory: directory, destination: destination), with: bytes, mode: 0o600)
    }

    /// Deletes the replay's file, durably.
    static func delete(directory: String, destination: String) throws(IntegrationError) {
        try DurableFile.remove(path(directory: directory, destination: destination))
    }
}
