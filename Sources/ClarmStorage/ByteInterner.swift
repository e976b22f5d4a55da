/// Assigns ids to distinct byte strings in order of first appearance: a segment column's dictionary,
/// or a query's table of the strings it has met.
public struct ByteInterner: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var offsets: [UInt32] = [0]
    private var slots: [Int32] = [Int32](repeating: -1, count: 1024)
    private var hashes: [UInt64] = []

    public init() {}

    public var count: Int { offsets.count - 1 }

    public mutating func id(for value: UnsafeRawBufferPointer) -> UInt32 {
        let hash = Self.hash(value)
        var slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while true {
            let id = slots[slot]
            if id < 0 { break }
            if hashes[Int(id)] == hash && equals(Int(id), value) { return UInt32(id) }
            slot = (slot + 1) & (slots.count - 1)
        }
        let id = Int32(count)
        slots[slot] = id
        hashes.append(hash)
        bytes.append(contentsOf: value)
        offsets.append(UInt32(bytes.count))
        if count * 2 > slots.count { rehash() }
        return UInt32(id)
    }

    /// A fast in-memory hash, eight bytes at a time (never stored, so free to change).
    @inline(__always)
    static func hash(_ value: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(value.count)
        var i = 0
        while i + 8 <= value.count {
            h = (h ^ value.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < value.count {
            tail |= UInt64(value[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    private func equals(_ id: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let start = Int(offsets[id]), end = Int(offsets[id + 1])
        guard end - start == value.count else { return false }
        return bytes.withUnsafeBytes { compareBytes(UnsafeRawBufferPointer(rebasing: $0[start..<end]), value) == 0 }
    }

    private mutating func rehash() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        for (id, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (slots.count - 1) }
            slots[slot] = Int32(id)
        }
    }

    public func value(_ id: UInt32) -> ArraySlice<UInt8> {
        bytes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }

    public func string(_ id: UInt32) -> String {
        String(decoding: value(id), as: UTF8.self)
    }

    /// The dictionary block's raw form: `offset u32 × (count + 1)` then the values' bytes.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(offsets.count * 4 + bytes.count)
        for offset in offsets { withUnsafeBytes(of: offset.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: bytes)
        return out
    }

    /// Bytes per id: the smallest of 1, 2, 4 that holds every id.
    var idWidth: Int { count <= 0x100 ? 1 : count <= 0x1_0000 ? 2 : 4 }
}
