/// The event-id hashes a shard accepted in the last `span` seconds, at most `capacity` of them, oldest first.
///
/// Each id keeps its arrival time (wall-clock seconds) so the window means the same after a restart. When
/// `capacity` is reached before `span`, the oldest ids go first and the window is shorter than asked: then
/// `shortenedBy` says so. Memory: about 12 bytes of ring and 16 of set per id (docs/FORMAT.md).
struct DedupWindow {
    /// Seconds an id is remembered.
    let span: Int64
    let capacity: Int
    private var members: Set<UInt64> = []
    // A ring of (hash, arrival) in arrival order; it grows by doubling up to `capacity`.
    private var hashes: [UInt64] = []
    private var arrivals: [UInt32] = []
    private var head = 0
    private(set) var count = 0
    /// Ids inserted since the counter was last reset: the ones the next seal must write down.
    private(set) var insertedSinceSeal = 0
    /// True once an id younger than `span` was evicted to respect `capacity`.
    private(set) var shortened = false

    init(span: Int64, capacity: Int) {
        self.span = max(1, span)
        self.capacity = max(1, capacity)
    }

    func contains(_ hash: UInt64) -> Bool { members.contains(hash) }

    /// Remembers `hash` as arrived at `arrival` (seconds); an id already held keeps its first arrival.
    mutating func insert(_ hash: UInt64, arrival: UInt32) {
        guard members.insert(hash).inserted else { return }
        insertedSinceSeal += 1
        if count == hashes.count {
            if count < capacity {
                grow()
            } else {
                if Int64(arrivals[head]) > Int64(arrival) - span { shortened = true }
                members.remove(hashes[head])
                head = (head + 1) % hashes.count
                count -= 1
            }
        }
        let slot = (head + count) % hashes.count
        hashes[slot] = hash
        arrivals[slot] = arrival
        count += 1
    }

    /// Forgets ids that arrived more than `span` seconds before `now`.
    mutating func expire(now: UInt32) {
        while count > 0, Int64(arrivals[head]) < Int64(now) - span {
            members.remove(hashes[head])
            head = (head + 1) % hashes.count
            count -= 1
        }
    }

    /// Seconds the window covers now: the age of its oldest id.
    func coveredSeconds(now: UInt32) -> Int64 {
        count == 0 ? 0 : max(0, Int64(now) - Int64(arrivals[head]))
    }

    /// The last `n` ids inserted, oldest first (fewer if the window no longer holds them).
    func newest(_ n: Int) -> [(hash: UInt64, arrival: UInt32)] {
        let n = min(n, count)
        return (0..<n).map { i in
            let slot = (head + count - n + i) % hashes.count
            return (hashes[slot], arrivals[slot])
        }
    }

    mutating func resetInsertedSinceSeal() { insertedSinceSeal = 0 }
    mutating func resetShortened() { shortened = false }

    private mutating func grow() {
        let size = min(capacity, max(1024, hashes.count * 2))
        var newHashes = [UInt64](repeating: 0, count: size)
        var newArrivals = [UInt32](repeating: 0, count: size)
        for i in 0..<count {
            newHashes[i] = hashes[(head + i) % hashes.count]
            newArrivals[i] = arrivals[(head + i) % hashes.count]
        }
        hashes = newHashes
        arrivals = newArrivals
        head = 0
    }

    static func hash(_ id: UnsafeRawBufferPointer) -> UInt64 { FNV1a.hash(id) }
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
