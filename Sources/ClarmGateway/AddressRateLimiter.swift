import ClarmServer

/// Token buckets per client address, in a table of fixed capacity shared by every event loop.
///
/// The table is split into shards by address hash, each with its own lock and `capacity / shards` slots.
/// When a shard is full, a new address takes the slot of one not seen since the clock hand last passed
/// (CLOCK, an approximation of least recently used): memory stays bounded however many addresses come,
/// and an evicted address starts again with a full bucket.
public final class AddressRateLimiter: Sendable {
    public let rate: Int
    public let burst: Int
    public let capacity: Int
    private let shards: ShardedMutex<IPAddress, BucketTable>

    /// `rate` requests a second per address with bursts of `burst`, for at most `capacity` addresses.
    public init(rate: Int, burst: Int, capacity: Int = 100_000, shards: Int = 64) {
        self.rate = rate
        self.burst = burst
        let shardCount = max(1, min(shards, capacity))
        self.capacity = capacity / shardCount * shardCount
        self.shards = ShardedMutex(count: shardCount) { _ in BucketTable(capacity: capacity / shardCount) }
    }

    /// Takes one request's token for `address` (its /64 for IPv6: `IPAddress.client`); nil when allowed, else the
    /// seconds until it would be.
    public func take(_ address: IPAddress, now: Int64) -> Int? {
        let address = address.client
        let (rate, burst) = (rate, burst)
        return shards.withLock(address) { table in
            table.take(address, now: now) { TokenBucket(rate: rate, burst: burst, now: now) }
        }
    }

    /// Addresses held now; never more than `capacity`.
    public var addressCount: Int {
        var total = 0
        shards.forEach { total += $0.count }
        return total
    }
}

/// One shard's fixed slots: an index from address to slot, and a CLOCK hand for eviction.
struct BucketTable {
    private let capacity: Int
    private var slots: [IPAddress: Int] = [:]
    private var addresses: [IPAddress] = []
    private var buckets: [TokenBucket] = []
    private var referenced: [Bool] = []
    private var hand = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        slots.reserveCapacity(self.capacity)
    }

    var count: Int { addresses.count }

    mutating func take(_ address: IPAddress, now: Int64, fresh: () -> TokenBucket) -> Int? {
        if let slot = slots[address] {
            referenced[slot] = true
            return buckets[slot].take(1, now: now)
        }
        var bucket = fresh()
        let verdict = bucket.take(1, now: now)
        if addresses.count < capacity {
            slots[address] = addresses.count
            addresses.append(address)
            buckets.append(bucket)
            referenced.append(false)
        } else {
            // Each pass clears the bits it skips, so this ends within two turns of the table.
            while referenced[hand] {
                referenced[hand] = false
                hand = (hand + 1) % capacity
            }
            slots[addresses[hand]] = nil
            slots[address] = hand
            addresses[hand] = address
            buckets[hand] = bucket
            hand = (hand + 1) % capacity
        }
        return verdict
    }
}
