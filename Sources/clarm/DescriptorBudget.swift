/// How the process's descriptors are shared out: a reserve for storage and the server's own, the rest for
/// connections. Without it, connections could take every descriptor and storage would fail with `EMFILE` (a
/// `503` for every event) while the gateway looks merely busy.
struct DescriptorBudget: CustomStringConvertible {
    /// Standard streams, the log, the data directory's lock and manifest, directory syncs and reads, queries.
    static let fixedReserve = 64
    /// A shard's write-ahead log, the segment a seal writes, the one a compaction writes, and a file it reads;
    /// segments are memory-mapped and their descriptors closed once mapped.
    static let perShard = 8
    /// An event loop's epoll and eventfd descriptors, its listener, and one accepted connection being refused.
    static let perLoop = 4
    /// The default connection limit where descriptors are plentiful; each connection also holds memory.
    static let defaultMaxConnections = 10_000

    let limit: Int
    let reserve: Int
    let maxConnections: Int
    /// The explicit `--max-connections` was lowered to fit.
    let lowered: Bool

    /// Fails when the limit leaves no descriptor for a connection.
    init(limit: Int, shards: Int, loops: Int, requested: Int?) throws(BudgetError) {
        self.limit = limit
        reserve = Self.fixedReserve + Self.perShard * shards + Self.perLoop * loops
        let available = limit - reserve
        guard available >= 1 else { throw BudgetError(limit: limit, reserve: reserve) }
        maxConnections = min(requested ?? Self.defaultMaxConnections, available)
        lowered = requested.map { $0 > available } ?? false
    }

    var description: String {
        "descriptor limit \(limit): \(reserve) reserved for storage and the event loops, max connections \(maxConnections)"
    }

    struct BudgetError: Error, CustomStringConvertible {
        let limit: Int
        let reserve: Int
        var description: String {
            "the descriptor limit (\(limit), RLIMIT_NOFILE) leaves nothing for connections after the \(reserve) reserved "
                + "for storage and the event loops; raise it (ulimit -n, LimitNOFILE=)"
        }
    }
}
