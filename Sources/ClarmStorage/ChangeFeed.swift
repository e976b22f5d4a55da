import ClarmEvents
import Dispatch
import Synchronization

/// Committed events of one shard, read by a consumer: whole WAL records from `start` up to `end`.
public struct FeedBatch: Sendable {
    public let shard: Int
    /// The events in log order; erased visitors' events are left out. May be empty when the records read held
    /// only such events, or when the feed moved past logs without any: acknowledge it all the same.
    public let events: [EventRecord]
    /// The consumer's cursor when it was read, and the position just past its last record.
    public let start: FeedPosition
    public let end: FeedPosition
}

/// A consumer's state in one shard, for operators.
public struct FeedShardState: Sendable {
    public let shard: Int
    /// The next record not acknowledged.
    public let cursor: FeedPosition
    /// Committed bytes of log from the cursor to the shard's commit point: the backlog.
    public let backlogBytes: Int
    /// Events deleted by `StoreOptions.feedRetentionBytes` before the consumer acknowledged them.
    public let lostEvents: UInt64
    /// The logs of the last such deletion.
    public let skippedLogs: ClosedRange<UInt64>?
}

/// A named, durable reader of every event the store acknowledges from its creation on (docs/FORMAT.md,
/// "Change feed"). Each shard keeps, per consumer, a cursor: the position in its WAL of the next record
/// the consumer has not acknowledged. Reading never goes past a shard's commit point, so a group that was
/// refused (503) is never seen; acknowledging moves the cursor durably. Logs the cursor has not passed are
/// kept, up to `StoreOptions.feedRetentionBytes` per shard; past that the oldest are deleted anyway and the
/// loss is counted in `state()`.
///
/// Delivery is at least once: after a crash the consumer reads again from its last acknowledged position.
/// Order is the log's within a shard (so per visitor); there is no order across shards.
///
/// `read` and `acknowledge` may be called from any thread; one shard's reads of one consumer should come
/// from one thread at a time, as they always start from the same cursor.
public final class ChangeFeed: Sendable {
    public let consumer: String
    let shards: [Shard]
    let signal = FeedSignal()

    init(consumer: String, shards: [Shard]) {
        self.consumer = consumer
        self.shards = shards
        for shard in shards { shard.feeds.register(signal) }
    }

    deinit {
        for shard in shards { shard.feeds.unregister(signal) }
    }

    public var shardCount: Int { shards.count }

    /// Names are 1 to 64 ASCII letters, digits, `-`, `_` or `.`, not starting with `.`: they become file names.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count) && bytes[0] != UInt8(ascii: ".") && bytes.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    /// The committed events of `shard` after the consumer's cursor (or after `position`, the `end` of a batch
    /// read before and not yet acknowledged, when it is not behind the cursor), whole records until about
    /// `maxEvents` events or `maxBytes` bytes of log (at least one record); nil when there is nothing new.
    /// Reading the same position again returns the same batch, so a delivery that failed is retried with the
    /// same events.
    public func read(shard: Int, after position: FeedPosition? = nil, maxEvents: Int = 1_000,
                     maxBytes: Int = 1 << 20) throws(StoreError) -> FeedBatch? {
        try shards[shard].feedRead(consumer: consumer, after: position, maxEvents: maxEvents, maxBytes: maxBytes)
    }

    /// Moves the consumer's cursor in `batch.shard` to `batch.end`, durably (file fsynced and renamed, directory
    /// fsynced) before it returns. Positions at or behind the cursor are ignored. On failure the cursor stays
    /// where it was, and the events are read again.
    public func acknowledge(_ batch: FeedBatch) throws(StoreError) {
        try acknowledge(shard: batch.shard, through: batch.end)
    }

    /// Moves the cursor in `shard` to `position` (a batch's `end`): a consumer that reads on with `after:` may
    /// acknowledge several batches at once, trading repeats after a crash for fewer cursor writes.
    public func acknowledge(shard: Int, through position: FeedPosition) throws(StoreError) {
        try shards[shard].feedAcknowledge(consumer: consumer, through: position)
    }

    /// Waits until a shard commits a group after the last wait returned, or `milliseconds` pass; true when a
    /// commit woke it. Commits signal at most once between waits, so waking costs ingest almost nothing.
    @discardableResult
    public func waitForCommit(milliseconds: Int) -> Bool {
        signal.wait(milliseconds: milliseconds)
    }

    /// Wakes a `waitForCommit` now (to stop a consumer, or when work other than commits waits).
    public func wake() {
        signal.notify()
    }

    /// The consumer's cursor, backlog and losses in every shard.
    public func state() -> [FeedShardState] {
        shards.compactMap { $0.feedState(consumer: consumer) }
    }
}

/// Wakes one consumer once per commit round at most: a commit signals only when no signal is pending.
final class FeedSignal: Sendable {
    private let pending = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    func notify() {
        if !pending.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    func wait(milliseconds: Int) -> Bool {
        let woken = semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success
        pending.store(false, ordering: .releasing)
        return woken
    }
}

/// A shard's change-feed state, on any thread: what is committed (the horizon), the consumers' cursors,
/// and who to wake after a commit.
final class ShardFeeds: Sendable {
    /// What readers may read: logs below `log` up to their end, `log` up to `committed`.
    struct Horizon {
        var log: UInt64 = 0
        var committed = 0
        /// Acknowledged length of the logs this process closed: a failed write may have left bytes past it.
        var closed: [UInt64: Int] = [:]
    }

    let horizon = Mutex(Horizon())
    /// Cursors by consumer; held while a cursor file is rewritten, so two changes never race.
    let cursors = Mutex<[String: FeedCursor]>([:])
    private let signals = Mutex<[ObjectIdentifier: FeedSignal]>([:])

    func register(_ signal: FeedSignal) {
        signals.withLock { $0[ObjectIdentifier(signal)] = signal }
    }

    func unregister(_ signal: FeedSignal) {
        _ = signals.withLock { $0.removeValue(forKey: ObjectIdentifier(signal)) }
    }

    /// On the writer, after a group commit: readers may read `log` up to `size`.
    func committed(log: UInt64, size: Int) {
        horizon.withLock {
            $0.log = log
            $0.committed = size
        }
        signals.withLock { signals in for signal in signals.values { signal.notify() } }
    }

    /// On the writer, when it stops writing `closing` (which holds `acknowledged` bytes of acknowledged groups)
    /// and starts `opening`.
    func rolled(closing: UInt64, acknowledged: Int, opening: UInt64) {
        horizon.withLock {
            // A log this process did not write (recovery) has no known length here: readers use the file's.
            if $0.log == closing { $0.closed[closing] = acknowledged }
            $0.log = opening
            $0.committed = 0
        }
    }

    /// The oldest log any consumer still needs; nil without consumers. A cursor at the acknowledged end of a log
    /// this process closed needs only what comes after it: an idle consumer that has read everything must not
    /// hold the log a seal just closed (a purge deletes it without waiting for the next event to move the cursor).
    var oldestNeededLog: UInt64? {
        let closed = horizon.withLock { $0.closed }
        return cursors.withLock { cursors in
            cursors.values.map { cursor in
                let position = cursor.position
                if let length = closed[position.log], position.offset >= length { return position.log + 1 }
                return position.log
            }.min()
        }
    }
}
