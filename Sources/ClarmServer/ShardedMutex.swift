import Synchronization

/// State split into shards by key hash, each behind its own lock, so threads working on different keys
/// rarely wait on each other. Swift's hash is seeded per process: clients cannot aim keys at one shard.
public final class ShardedMutex<Key: Hashable, Value>: Sendable {
    private final class Shard: Sendable {
        let mutex: Mutex<Value>
        init(_ value: sending Value) { mutex = Mutex(value) }
    }

    private let shards: [Shard]

    /// `count` shards, the i-th starting as `make(i)`.
    public init(count: Int, _ make: (Int) -> Value) {
        shards = (0..<max(1, count)).map { Shard(make($0)) }
    }

    public var count: Int { shards.count }

    /// Runs `body` on the shard `key` belongs to, under its lock.
    public func withLock<Result: Sendable>(_ key: Key, _ body: (inout Value) -> Result) -> Result {
        let index = Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))
        return shards[index].mutex.withLock { value in body(&value) }
    }

    /// Runs `body` on every shard in turn, each under its lock; for totals and tests.
    public func forEach(_ body: (inout Value) -> Void) {
        for shard in shards { shard.mutex.withLock { body(&$0) } }
    }
}
