/// The ids of one seal, `ids-N.dedup` (docs/FORMAT.md, "Deduplication window"): published before the
/// segment `seg-N.cseg` that holds their events, so a seal's ids are durable no later than its events.
enum DedupFile {
    static let magic: [UInt8] = Array("CLID".utf8)
    static let entrySize = 12

    static func name(_ number: UInt64) -> String { "ids-\(Shard.padded(number)).dedup" }
    static func number(in name: String) -> UInt64? { Shard.number(in: name, prefix: "ids-", suffix: ".dedup") }

    static func encode(_ ids: [(hash: UInt64, arrival: UInt32)]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(12 + ids.count * entrySize)
        withUnsafeBytes(of: UInt32(ids.count).littleEndian) { out.append(contentsOf: $0) }
        for id in ids {
            withUnsafeBytes(of: id.hash.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: id.arrival.littleEndian) { out.append(contentsOf: $0) }
        }
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The ids of a file image, oldest first; nil when it is damaged.
    static func decode(_ bytes: [UInt8]) -> [(hash: UInt64, arrival: UInt32)]? {
        guard bytes.count >= 12, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { raw -> [(hash: UInt64, arrival: UInt32)]? in
            let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            guard bytes.count == 8 + count * entrySize + 4 else { return nil }
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(bytes.count - 4)])) == stored else { return nil }
            return (0..<count).map { i in
                (UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + i * entrySize, as: UInt64.self)),
                 UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 16 + i * entrySize, as: UInt32.self)))
            }
        }
    }

    /// `dedup.ids` of earlier versions: `"CLDD" | count u32 | hash u64 × count | crc u32`, without arrival
    /// times. Recovery converts it once into `ids-0.dedup` (a number no seal uses), arrived at the upgrade.
    static let legacyName = "dedup.ids"

    static func decodeLegacy(_ bytes: [UInt8]) -> [UInt64]? {
        guard bytes.count >= 12, Array(bytes[0..<4]) == Array("CLDD".utf8) else { return nil }
        return bytes.withUnsafeBytes { raw -> [UInt64]? in
            let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            guard bytes.count == 8 + count * 8 + 4 else { return nil }
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(bytes.count - 4)])) == stored else { return nil }
            return (0..<count).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + $0 * 8, as: UInt64.self)) }
        }
    }
}
