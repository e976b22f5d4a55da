/// Assigns ids to distinct byte strings in order of first appearance: a segment column's dictionary,
/// or a query's table of the strings it has met.
public struct ByteInterner: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var offsets: [Int] = [0]
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
        offsets.append(bytes.count)
        if count * 2 > slots.count { rehash() }
        return UInt32(id)
    }

    /// Swift's `Hasher`: SipHash-1-3 under a key drawn at random per process, so ids that collide cannot be
    /// crafted from outside and probing stays short whatever the input.
    @inline(__always)
    static func hash(_ value: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: value)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }

    private func equals(_ id: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[id], end = offsets[id + 1]
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
        bytes[offsets[Int(id)]..<offsets[Int(id) + 1]]
    }

    public func string(_ id: UInt32) -> String {
        String(decoding: value(id), as: UTF8.self)
    }

    /// Bytes per id: the smallest of 1, 2, 4 that holds every id.
    var idWidth: Int { count <= 0x100 ? 1 : count <= 0x1_0000 ? 2 : 4 }
}
