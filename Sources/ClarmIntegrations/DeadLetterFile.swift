import ClarmStorage
import ClarmSystem
import Glibc

/// A request given up on after its last retry, as stored: sent again unchanged by a replay.
public struct DeadLetter: Sendable {
    let seq: UInt64
    public let id: String
    public let url: String
    public let events: Int
    public let error: String
    public let milliseconds: Int64
    let body: [UInt8]
    /// The (site, visitor) of its events, so an erasure finds it (empty in letters written before they were kept).
    let visitors: [ErasureSet.Tombstone]

    /// Whether it holds an event of an erased visitor; a letter without its visitors is searched for each
    /// erased visitor id in its body.
    func holds(anyOf erased: Set<ErasureSet.Tombstone>) -> Bool {
        if !visitors.isEmpty { return visitors.contains(where: erased.contains) }
        return erased.contains { !$0.visitor.isEmpty && body.contains($0.visitor) }
    }
}

/// `DATA/dead-letters/<id>.log` (docs/FORMAT.md, "Dead letters"): a destination's dead letters, each made
/// durable (fdatasync) before `add` returns, bounded in count and bytes (the oldest dropped and counted).
/// Letters handed to a replay stay in the file, marked `queued`, until delivered or dead-lettered again.
struct DeadLetterFile: ~Copyable {
    static let directoryName = "dead-letters"
    static let maxRecordBytes = 32 << 20

    let path: String
    private let maxLetters: Int
    private let maxBytes: Int
    /// The live letters, oldest first.
    private(set) var letters: [DeadLetter] = []
    /// Seqs of letters a replay is sending.
    var queued: Set<UInt64> = []
    /// Letters dropped past the bound since the file was opened.
    private(set) var dropped = 0
    private var bodyBytes = 0
    private var fileBytes = 0
    private var liveBytes = 0
    private var nextSeq: UInt64 = 1
    private var fd: Int32 = -1
    /// After a failed append: a partial record may end the file, and what followed it would be cut off with it.
    private var needsRewrite = false

    static func path(directory: String, destination: String) -> String {
        "\(directory)/\(directoryName)/\(destination).log"
    }

    /// Reads the file when there is one, cutting off a torn tail and rewriting it when anything was removed.
    init(directory: String, destination: String, maxLetters: Int, maxBytes: Int) throws(IntegrationError) {
        path = Self.path(directory: directory, destination: destination)
        self.maxLetters = maxLetters
        self.maxBytes = maxBytes
        let files = PosixFileSystem()
        guard files.exists(path) else { return }
        let bytes: [UInt8]
        do throws(StorageIOError) { bytes = try files.readAll(path) } catch { throw .notSaved("dead letters: \(error)") }
        var offset = 0
        var removed = false
        while let entry = Self.record(in: bytes, at: offset) {
            offset = entry.next
            var reader = ByteReader(data: entry.payload)
            switch reader.u8() {
            case let type where type == 1 || type == 3:
                guard let seq = reader.u64(), let at = reader.i64(), let events = reader.u32(), let id = reader.string(),
                      let url = reader.string(), let error = reader.string(), let body = reader.bytes(),
                      let visitors = type == 3 ? Self.visitors(&reader) : [] else { break }
                letters.append(DeadLetter(seq: seq, id: id, url: url, events: Int(events), error: error, milliseconds: at,
                                          body: body, visitors: visitors))
                nextSeq = max(nextSeq, seq + 1)
            case 2:
                guard let seq = reader.u64() else { break }
                letters.removeAll { $0.seq == seq }
                removed = true
            default:
                break
            }
        }
        bodyBytes = letters.reduce(0) { $0 + $1.body.count }
        fileBytes = bytes.count
        liveBytes = bytes.count
        if removed || offset < bytes.count { try rewrite() }
        try dropPastBound()
    }

    /// The payload of the record at `offset` and where the next begins; nil at the end or at a torn record.
    private static func record(in bytes: [UInt8], at offset: Int) -> (payload: [UInt8], next: Int)? {
        guard offset + 8 <= bytes.count else { return nil }
        var header = ByteReader(data: Array(bytes[offset..<(offset + 8)]))
        guard let length = header.u32().map(Int.init), let crc = header.u32(), length <= maxRecordBytes,
              offset + 8 + length <= bytes.count else { return nil }
        let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
        guard payload.withUnsafeBytes({ CRC32C.mask(CRC32C.checksum($0)) }) == crc else { return nil }
        return (payload, offset + 8 + length)
    }

    /// Keeps a new dead letter, durably; drops the oldest past the bound. Throws only when the letter is not
    /// kept; once it is, a failed drop is answered (the letter must not be added again), and the next change
    /// drops again.
    mutating func add(id: String, url: String, events: Int, error: String, milliseconds: Int64, body: [UInt8],
                      visitors: [ErasureSet.Tombstone]) throws(IntegrationError) -> IntegrationError? {
        let letter = DeadLetter(seq: nextSeq, id: id, url: url, events: events, error: String(error.prefix(300)),
                                milliseconds: milliseconds, body: body, visitors: visitors)
        try append(Self.encode(letter))
        nextSeq += 1
        letters.append(letter)
        bodyBytes += body.count
        do throws(IntegrationError) { try dropPastBound() } catch { return error }
        return nil
    }

    /// Forgets a letter (delivered, dead-lettered again, or dropped); a seq not kept is ignored.
    mutating func remove(_ seq: UInt64) throws(IntegrationError) {
        guard let index = letters.firstIndex(where: { $0.seq == seq }) else { return }
        var payload: [UInt8] = [2]
        payload.put(seq)
        try append(payload)
        let letter = letters.remove(at: index)
        bodyBytes -= letter.body.count
        liveBytes -= Self.frame(Self.encode(letter)).count
        queued.remove(seq)
        // Compaction only saves space: when it fails the file stays as it is (whole) and the next removal tries again.
        if fileBytes > 64 << 10 && fileBytes > 2 * liveBytes { try? rewrite() }
    }

    private mutating func dropPastBound() throws(IntegrationError) {
        while let oldest = letters.first, letters.count > maxLetters || bodyBytes > maxBytes {
            try remove(oldest.seq)
            dropped += 1
        }
    }

    /// Drops the letters holding an event of the erased visitors, rewriting the file without them, so no byte of
    /// the visitor stays in it (a letter of several visitors goes whole: their events stay in the store, for a
    /// replay of their time range). Answers how many went.
    mutating func erase(_ erased: Set<ErasureSet.Tombstone>) throws(IntegrationError) -> Int {
        let before = letters.count
        let gone = Set(letters.filter { $0.holds(anyOf: erased) }.map(\.seq))
        // A rewrite that failed before is tried again: the file may still hold what was dropped from memory.
        guard !gone.isEmpty || needsRewrite else { return 0 }
        letters.removeAll { gone.contains($0.seq) }
        queued.subtract(gone)
        bodyBytes = letters.reduce(0) { $0 + $1.body.count }
        needsRewrite = true
        try rewrite()
        return before - letters.count
    }

    /// Type 3 (type 1, written before letters kept their visitors, is read as having none).
    static func encode(_ letter: DeadLetter) -> [UInt8] {
        var payload: [UInt8] = [3]
        payload.put(letter.seq)
        payload.put(letter.milliseconds)
        payload.put(UInt32(letter.events))
        for text in [letter.id, letter.url, letter.error] { payload.put(Array(text.utf8)) }
        payload.put(letter.body)
        payload.put(UInt32(letter.visitors.count))
        for visitor in letter.visitors {
            payload.put(visitor.site)
            payload.put(visitor.visitor)
        }
        return payload
    }

    private static func visitors(_ reader: inout ByteReader) -> [ErasureSet.Tombstone]? {
        guard let count = reader.u32(), Int(count) <= reader.data.count else { return nil }
        var visitors: [ErasureSet.Tombstone] = []
        for _ in 0..<count {
            guard let site = reader.bytes(), let visitor = reader.bytes() else { return nil }
            visitors.append(ErasureSet.Tombstone(site: site, visitor: visitor))
        }
        return visitors
    }

    /// `length | crc | payload`.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.put(UInt32(payload.count))
        record.put(payload.withUnsafeBytes { CRC32C.mask(CRC32C.checksum($0)) })
        return record + payload
    }

    private mutating func append(_ payload: [UInt8]) throws(IntegrationError) {
        if needsRewrite { try rewrite() }
        if fd < 0 {
            try DurableFile.makeDirectory(String(path[..<path.lastIndex(of: "/")!]), mode: 0o700)
            let created = !PosixFileSystem().exists(path)
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw failure("open") }
            // A new file's name is made durable once, before the first letter in it is acknowledged.
            if created {
                do throws(IntegrationError) { try DurableFile.syncDirectory(of: path) } catch {
                    closeDescriptor(fd)
                    fd = -1
                    throw error
                }
            }
        }
        let record = Self.frame(payload)
        do throws(Errno) {
            try DurableFile.writeAll(fd, record)
            _ = try retryingOnInterrupt { fdatasync(fd) }
        } catch {
            closeDescriptor(fd)
            fd = -1
            needsRewrite = true
            throw .notSaved("dead letters \(path): \(error)")
        }
        fileBytes += record.count
        if payload.first != 2 { liveBytes += record.count }
    }

    /// The live letters alone, replacing the file (`DurableFile`).
    private mutating func rewrite() throws(IntegrationError) {
        if fd >= 0 { closeDescriptor(fd) }
        fd = -1
        let bytes = letters.flatMap { Self.frame(Self.encode($0)) }
        try DurableFile.replace(path, with: bytes, mode: 0o600)
        fileBytes = bytes.count
        liveBytes = bytes.count
        needsRewrite = false
    }

    private func failure(_ operation: String) -> IntegrationError {
        .notSaved("dead letters: \(operation) \(path): \(String(cString: strerror(errno)))")
    }

    deinit {
        if fd >= 0 { closeDescriptor(fd) }
    }

    /// Deletes a removed destination's file, durably.
    static func delete(directory: String, destination: String) throws(IntegrationError) {
        try DurableFile.remove(path(directory: directory, destination: destination))
    }
}

extension [UInt8] {
    mutating func put<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// `length u32 | bytes`.
    mutating func put(_ bytes: [UInt8]) {
        put(UInt32(bytes.count))
        append(contentsOf: bytes)
    }
}

/// Reads little-endian fields in order; nil past the end.
struct ByteReader {
    let data: [UInt8]
    var offset = 0

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard offset + MemoryLayout<T>.size <= data.count else { return nil }
        var value = T.zero
        for i in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(data[offset + i]) }
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func u8() -> UInt8? { integer(UInt8.self) }
    mutating func u32() -> UInt32? { integer(UInt32.self) }
    mutating func u64() -> UInt64? { integer(UInt64.self) }
    mutating func i64() -> Int64? { integer(UInt64.self).map { Int64(bitPattern: $0) } }

    mutating func bytes() -> [UInt8]? {
        guard let length = u32().map(Int.init), offset + length <= data.count else { return nil }
        defer { offset += length }
        return Array(data[offset..<(offset + length)])
    }

    mutating func string() -> String? { bytes().map { String(decoding: $0, as: UTF8.self) } }
}
