/// The store's change-feed consumers (`ChangeFeed`).
extension Store {
    /// The consumer named `consumer`, created if it does not exist yet: a new consumer's cursors start at
    /// every shard's commit point, so it reads only events acknowledged from now on. The name must satisfy
    /// `ChangeFeed.isValidName`.
    public func feed(consumer: String) throws(StoreError) -> ChangeFeed {
        guard ChangeFeed.isValidName(consumer) else { throw StoreError("invalid change-feed consumer name \(consumer)") }
        for shard in shards { try shard.feedCreate(consumer: consumer) }
        return ChangeFeed(consumer: consumer, shards: shards)
    }

    /// Deletes the consumer's cursors; the logs only it held back are deleted at the next maintenance turn.
    public func removeFeed(consumer: String) throws(StoreError) {
        for shard in shards { try shard.feedRemove(consumer: consumer) }
    }

    /// The consumers that exist, by name.
    public var feedConsumers: [String] {
        Set(shards.flatMap { shard in shard.feeds.cursors.withLock { Array($0.keys) } }).sorted()
    }
}
