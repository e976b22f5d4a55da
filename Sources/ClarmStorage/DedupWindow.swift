/// The last `capacity` event-id hashes a shard accepted, oldest evicted first.
struct DedupWindow {
    let capacity: Int
    private var members: Set<UInt64> = []
    private var ring: [UInt64] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func contains(_ hash: UInt64) -> Bool { members.contains(hash) }

    mutating func insert(_ hash: UInt64) {
        guard members.insert(hash).inserted else { return }
        if ring.count < capacity {
            ring.append(hash)
        } else {
            members.remove(ring[head])
            ring[head] = hash
            head = (head + 1) % capacity
        }
    }

    /// Hashes oldest first.
    var ordered: [UInt64] { Array(ring[head...]) + Array(ring[..<head]) }

    static func hash(_ id: UnsafeRawBufferPointer) -> UInt64 { FNV1a.hash(id) }

    // MARK: File (docs/FORMAT.md, "Deduplication window")

    static let magic: [UInt8] = Array("CLDD".utf8)

    func encoded() -> [UInt8] {
        var out = Self.magic
        let hashes = ordered
        withUnsafeBytes(of: UInt32(hashes.count).littleEndian) { out.append(contentsOf: $0) }
        for hash in hashes { withUnsafeBytes(of: hash.littleEndian) { out.append(contentsOf: $0) } }
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Fills the window from a file image; false when the image is damaged (the window is then left empty).
    mutating func load(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 12, Array(bytes[0..<4]) == Self.magic else { return false }
        return bytes.withUnsafeBytes { raw in
            let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            guard bytes.count == 8 + count * 8 + 4 else { return false }
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(bytes.count - 4)])) == stored else { return false }
            for i in 0..<count {
                insert(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 + i * 8, as: UInt64.self)))
            }
            return true
        }
    }
}

/// 64-bit FNV-1a: stable across runs and machines, for shard placement and id hashing.
public enum FNV1a {
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }
}
