import ClarmStorage

/// The store's change feed as the shipper's source: one `ChangeFeed` per shard thread, so a commit in one
/// shard wakes that shard's thread only.
public final class ChangeFeedShippingSource: ShippingSource {
    /// The consumer Clarm's ClickHouse shipping reads as (its cursors: `shard-N/feed-clickhouse.cursor`).
    public static let consumer = "clickhouse"
    /// Bytes of log one read may take: about 10,000 typical events.
    static let maxReadBytes = 16 << 20
    let feeds: [ChangeFeed]

    public init(store: Store) throws(StoreError) {
        var feeds: [ChangeFeed] = []
        for _ in 0..<store.shardCount { feeds.append(try store.feed(consumer: Self.consumer)) }
        self.feeds = feeds
    }

    public func next(shard: Int, max: Int) throws -> ShipmentBatch? {
        let feed = feeds[shard]
        guard let batch = try feed.read(shard: shard, maxEvents: max, maxBytes: Self.maxReadBytes) else { return nil }
        return ShipmentBatch(events: batch.events) { try feed.acknowledge(batch) }
    }

    public func wait(shard: Int, milliseconds: Int) {
        feeds[shard].waitForCommit(milliseconds: milliseconds)
    }

    public func backlogBytes(shard: Int) -> Int {
        feeds[shard].state().first { $0.shard == shard }?.backlogBytes ?? 0
    }
}
