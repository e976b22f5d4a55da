import Synchronization

/// The bytes of buffered events (active and sealing memtables) across all shards, against `--memory-limit`.
///
/// A shard reserves before it writes a group to its log and releases when the group's memtable is sealed;
/// a reservation past the limit is refused, so the store answers 503 instead of growing.
final class MemoryBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var bytesInUse: Int { used.load(ordering: .relaxed) }

    /// Takes `bytes` if they fit under the limit.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Takes `bytes` whatever the limit: events recovered from a log were acknowledged and cannot be refused.
    func take(_ bytes: Int) {
        used.add(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
