import Synchronization

/// The bytes of buffered events (queued appends, active and sealing memtables) and of the seals and
/// compactions encoding them, across all shards, against `--memory-limit`.
///
/// An append reserves its records when it is queued and the shard releases them when their memtable is
/// sealed; a reservation past the limit is refused, so the store answers 503 instead of growing. Seals and
/// compactions take their working memory whatever the limit (they are what frees memory) and so hold
/// appends off while they run.
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

    /// Takes `bytes` whatever the limit: for events recovered from a log (acknowledged, never refused) and for
    /// the work that releases memory.
    func take(_ bytes: Int) {
        used.add(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
