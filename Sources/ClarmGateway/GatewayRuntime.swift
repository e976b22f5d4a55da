import ClarmBots
import ClarmClickHouse
import ClarmMetrics
import ClarmQuery
import ClarmStorage
import Glibc
import Synchronization

/// Settings of the gateway beyond its store and keys.
public struct GatewayOptions: Sendable {
    /// Store events of crawlers too, instead of dropping and counting them.
    public var keepBots = false
    /// Queries running at once (each also spreads over every shard).
    public var queryConcurrency = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Queries waiting for a thread; beyond this a query gets 503 at once.
    public var queryQueue = 16
    /// Milliseconds from a query's arrival (queueing included) until it is stopped and answered 504.
    public var queryTimeoutMilliseconds: Int64 = 30_000
    /// Events one query may hold in memory (64 bytes each; strings count per 64 bytes) before it is stopped and
    /// answered 422.
    public var queryMaxRows = 10_000_000

    public init() {}
}

/// What every event loop's `Gateway` shares: the query scheduler, the metrics, the crawler matcher. Make one
/// per server and hand it to each loop's gateway.
public final class GatewayRuntime: Sendable {
    public let options: GatewayOptions
    public let metrics: GatewayMetrics
    let scheduler: QueryScheduler
    /// Nil with `keepBots`.
    let crawlers: CrawlerMatcher?
    private let connectionCount = Mutex<(@Sendable () -> Int)?>(nil)
    /// Where `/api/cluster` and `/metrics` read shipping to ClickHouse from, when the gateway ships.
    let shipping = Mutex<(@Sendable () -> ShippingStatus)?>(nil)
    let sqlEngine = Mutex<ClickHouseQueryEngine?>(nil)
    /// Where an erasure goes after the store's tombstone, when the gateway ships: ClickHouse's own record.
    let erasureForwarding = Mutex<(@Sendable (String, String) throws -> Void)?>(nil)

    /// `storage` is the store's own metrics (`Store.metrics`), written out with the gateway's.
    public init(options: GatewayOptions = GatewayOptions(), storage: StorageMetrics) {
        self.options = options
        metrics = GatewayMetrics(storage: storage)
        scheduler = QueryScheduler(concurrency: options.queryConcurrency, queueLimit: options.queryQueue)
        crawlers = options.keepBots ? nil : CrawlerMatcher.shared
    }

    /// Where `/metrics` reads the open connections from (the server, made after its handlers' runtime).
    public func countConnections(with count: @escaping @Sendable () -> Int) {
        connectionCount.withLock { $0 = count }
    }

    var openConnections: Int { connectionCount.withLock { $0?() } ?? 0 }
}
