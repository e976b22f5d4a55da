/// `wal-N.valid`: how many bytes of `wal-N.log` were acknowledged, written only when a failed write or fsync
/// left bytes past that point and cutting them off (ftruncate) failed too. Recovery replays no further
/// (docs/FORMAT.md, "Write-ahead log").
enum LogCommitPoint {
    static let magic: [UInt8] = Array("CLVL".utf8)

    static func name(_ logNumber: UInt64) -> String { "wal-\(Shard.padded(logNumber)).valid" }

    static func encode(_ length: Int) -> [UInt8] {
        var out = magic
        withUnsafeBytes(of: UInt64(length).littleEndian) { out.append(contentsOf: $0) }
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The acknowledged length, or nil when the image is damaged.
    static func decode(_ bytes: [UInt8]) -> Int? {
        guard bytes.count == 16, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { raw -> Int? in
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<12])) == stored else { return nil }
            return Int(exactly: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt64.self)))
        }
    }
}
