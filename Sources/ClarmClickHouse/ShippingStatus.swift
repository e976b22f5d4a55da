/// Where shipping to ClickHouse stands, for `GET /api/cluster` and `/metrics`.
public struct ShippingStatus: Sendable {
    public struct Shard: Sendable {
        /// Rows ClickHouse acknowledged since the gateway started.
        public var shipped = 0
        /// Events read from the change feed and not yet acknowledged by ClickHouse.
        public var pending = 0
        /// Bytes of the shard's log committed and not yet acknowledged by ClickHouse (the feed's backlog).
        public var unreadBytes = 0
        /// Arrival time (UTC ms) of the oldest event not yet shipped; nil when all are.
        public var oldestPendingArrival: Int64?
        public var failures = 0
        public var lastError: String?
        public var lastErrorAt: Int64?
        public var lastShippedAt: Int64?

        public init() {}
    }

    public var url: String
    public var database: String
    public var cluster: String?
    public var shards: [Shard]
    public var backfill: BackfillStatus

    public struct BackfillStatus: Sendable {
        /// Rows of the events stored before shipping was enabled, and how many of them ClickHouse has.
        public var rows = 0
        public var shipped = 0
        public var done = true

        public init() {}
    }

    /// Erasures forwarded to ClickHouse (docs/SCALE.md, "Erasure").
    public struct ErasureStatus: Sendable {
        /// Erased visitors whose deletion ClickHouse has not accepted yet (`DATA/clickhouse/erasures`).
        public var pending = 0
        /// Deletions ClickHouse accepted since the gateway started.
        public var accepted = 0
        public var failures = 0
        public var lastError: String?
        public var lastErrorAt: Int64?

        public init() {}
    }

    public var erasures = ErasureStatus()

    public var shipped: Int { shards.reduce(0) { $0 + $1.shipped } }
    /// Bytes of log acknowledged to clients and not yet in ClickHouse.
    public var backlogBytes: Int { shards.reduce(0) { $0 + $1.unreadBytes } }
    /// Rows of the backfill not yet in ClickHouse.
    public var backfillBacklog: Int { backfill.rows - backfill.shipped }

    /// Milliseconds since the oldest event not yet shipped arrived (0 when none waits).
    public func lagMilliseconds(now: Int64) -> Int64 {
        shards.compactMap(\.oldestPendingArrival).min().map { max(0, now - $0) } ?? 0
    }

    /// The most recent error of any shard, and when it happened.
    public var lastError: (message: String, at: Int64)? {
        shards.compactMap { shard in shard.lastError.map { ($0, shard.lastErrorAt ?? 0) } }.max { $0.1 < $1.1 }
    }
}
