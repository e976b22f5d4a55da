import ClarmEvents
import ClarmStorage
import ClarmSystem
import Foundation
import Synchronization

/// Where the shipper reads events from: per shard, committed events after a durable cursor (the store's
/// change feed, `ClickHouseShipper+feed.swift`).
public protocol ShippingSource: Sendable {
    /// Up to `max` events of `shard` from its cursor (the same ones again until acknowledged), nil when none.
    func next(shard: Int, max: Int) throws -> ShipmentBatch?
    /// Waits up to `milliseconds` for new events in `shard`.
    func wait(shard: Int, milliseconds: Int)
    /// Bytes of log committed in `shard` and not yet acknowledged.
    func backlogBytes(shard: Int) -> Int
}

/// Events to ship, and how to move the feed's cursor past them once ClickHouse has acknowledged them.
public struct ShipmentBatch: Sendable {
    public var events: [EventRecord]
    /// Moves the shard's durable cursor past `events` (and every batch read before them).
    public var acknowledge: @Sendable () throws -> Void

    public init(events: [EventRecord], acknowledge: @escaping @Sendable () throws -> Void) {
        self.events = events
        self.acknowledge = acknowledge
    }
}

/// Ships every acknowledged event to ClickHouse (docs/SCALE.md): one thread per shard reads its change feed
/// (`batchEvents` at most, or what came within `interval` of the first), inserts it as RowBinary, and only
/// then moves the feed's cursor. A failed insert is retried, the same rows, after 100 ms doubling to 30 s; a crash
/// between the insert and the cursor's move sends the batch again, and the event key makes that harmless.
public final class ClickHouseShipper: Sendable {
    public struct Options: Sendable {
        public var batchEvents = 10_000
        public var intervalMilliseconds: Int64 = 1_000
        /// How long an idle shard waits for a commit before looking at its feed again.
        public var pollMilliseconds: Int64 = 100
        /// The least time between two deletions of erased visitors (each is a mutation that rewrites parts).
        public var erasureIntervalMilliseconds: Int64 = 5_000

        public init() {}
    }

    let endpoint: ClickHouseEndpoint
    let options: Options
    let source: any ShippingSource
    let backfill: ClickHouseBackfill?
    let erasures: ClickHouseErasures?
    /// Every server holding the events' local table (one per shard of the cluster), for deletions.
    let servers: [ClickHouseEndpoint]
    let state: Mutex<ShippingStatus>
    /// Per shard, how many reads of its feed its thread has started (`ClickHouseErasures`, when one is due).
    let reads: Mutex<[UInt64]>
    /// When an insert last failed (ms): one that timed out may still be written by ClickHouse after its retry,
    /// later than a deletion made meanwhile, so erasures wait a request timeout after it.
    let insertFailedAt = Mutex<Int64?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)

    /// `servers` defaults to `[endpoint]`; with a cluster it must name every shard's server, as `init` does.
    public init(endpoint: ClickHouseEndpoint, shards: Int, options: Options = Options(), backfill: ClickHouseBackfill? = nil,
                erasures: ClickHouseErasures? = nil, servers: [ClickHouseEndpoint]? = nil, source: any ShippingSource) {
        self.endpoint = endpoint
        self.options = options
        self.source = source
        self.backfill = backfill
        self.erasures = erasures
        self.servers = servers ?? [endpoint]
        var status = ShippingStatus(url: endpoint.url, database: endpoint.database, cluster: endpoint.cluster,
                                    shards: Array(repeating: ShippingStatus.Shard(), count: shards), backfill: .init())
        if let backfill { status.backfill = backfill.status }
        status.erasures.pending = erasures?.count ?? 0
        state = Mutex(status)
        reads = Mutex(Array(repeating: 0, count: shards))
    }

    public var status: ShippingStatus { state.withLock { $0 } }

    /// Starts one thread per shard (the first also sends the backfill, before its feed).
    public func start() {
        let shards = state.withLock { $0.shards.count }
        for shard in 0..<shards {
            running.add(1, ordering: .sequentiallyConsistent)
            let thread = Thread { [self] in
                if shard == 0, let backfill { sendBackfill(backfill) }
                follow(shard)
                running.subtract(1, ordering: .sequentiallyConsistent)
            }
            thread.name = "clickhouse-\(shard)"
            thread.start()
        }
        if let erasures {
            running.add(1, ordering: .sequentiallyConsistent)
            let thread = Thread { [self] in
                forwardErasures(erasures)
                running.subtract(1, ordering: .sequentiallyConsistent)
            }
            thread.name = "clickhouse-erasures"
            thread.start()
        }
    }

    /// Stops the threads after their current attempt (at most the endpoint's timeout); what they had not
    /// shipped stays behind the feed's cursors and is shipped after the next start.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        while running.load(ordering: .sequentiallyConsistent) > 0 { usleep(10_000) }
    }

    var stopped: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    private func follow(_ shard: Int) {
        var firstSeenAt: Int64? = nil
        var writer = RowBinaryWriter()
        var reader = PropertyReader()
        while !stopped {
            // Counted before the read: a batch read before an erasure was recorded is in ClickHouse by the time
            // this count has moved past the one the erasure recorded (`ClickHouseErasures`).
            reads.withLock { $0[shard] += 1 }
            let batch: ShipmentBatch?
            do {
                batch = try source.next(shard: shard, max: options.batchEvents)
            } catch {
                failed(shard, "reading the change feed: \(error)")
                pause(Backoff.first)
                continue
            }
            let unread = source.backlogBytes(shard: shard)
            update(shard) {
                $0.unreadBytes = unread
                $0.pending = batch?.events.count ?? 0
                $0.oldestPendingArrival = batch?.events.lazy.map(\.receivedAt).min()
            }
            guard let batch else {
                firstSeenAt = nil
                source.wait(shard: shard, milliseconds: Int(options.pollMilliseconds))
                continue
            }
            if !batch.events.isEmpty && batch.events.count < options.batchEvents {
                // Not full: give it until `interval` after it was first seen to grow, then read it again (the
                // feed hands out the same events from the cursor, and those committed since) and send it.
                let seen = firstSeenAt ?? Self.now()
                firstSeenAt = seen
                let wait = seen + options.intervalMilliseconds - Self.now()
                if wait > 0 {
                    pause(wait)
                    continue
                }
            }
            firstSeenAt = nil
            if !batch.events.isEmpty {
                writer.removeAll()
                for event in batch.events { ClickHouseRow.append(event, key: ClickHouseRow.eventKey(event), to: &writer, reader: &reader) }
                guard insertRetrying(writer.bytes, shard: shard) else { return }
            }
            do {
                try batch.acknowledge()
            } catch {
                // ClickHouse has the rows; the cursor stays, and they are sent again (harmless: same keys).
                failed(shard, "moving the change feed's cursor: \(error)")
                pause(Backoff.first)
                continue
            }
            let count = batch.events.count
            update(shard) {
                $0.shipped += count
                $0.pending = 0
                $0.oldestPendingArrival = nil
                if count > 0 { $0.lastShippedAt = Self.now() }
            }
        }
    }

    /// Inserts `rows` until ClickHouse takes them or the shipper stops (false).
    func insertRetrying(_ rows: [UInt8], shard: Int) -> Bool {
        var backoff = Backoff()
        while !stopped {
            do {
                try endpoint.insert(rows)
                return true
            } catch {
                insertFailedAt.withLock { $0 = Self.now() }
                failed(shard, error.description)
                pause(backoff.next())
            }
        }
        return false
    }

    private func sendBackfill(_ backfill: ClickHouseBackfill) {
        // A read that fails is tried again (shown in /api/cluster meanwhile): giving up would leave the backfill
        // never done, and erasures, which wait for it, piling up.
        var backoff = Backoff()
        while !stopped {
            let batch: ClickHouseBackfill.Batch?
            do {
                batch = try backfill.next()
                backoff.reset()
            } catch {
                failed(0, "reading the backfill: \(error)")
                pause(backoff.next())
                continue
            }
            guard let batch else { break }
            guard insertRetrying(batch.rows, shard: 0) else { return }
            do {
                try backfill.shipped(batch)
            } catch {
                failed(0, "recording the backfill's progress: \(error)")
            }
            state.withLock { $0.backfill = backfill.status }
        }
        state.withLock { $0.backfill = backfill.status }
    }

    private func failed(_ shard: Int, _ message: String) {
        update(shard) {
            $0.failures += 1
            $0.lastError = message
            $0.lastErrorAt = Self.now()
        }
    }

    private func update(_ shard: Int, _ change: (inout ShippingStatus.Shard) -> Void) {
        state.withLock { change(&$0.shards[shard]) }
    }

    /// Sleeps `milliseconds`, waking early when the shipper stops.
    func pause(_ milliseconds: Int64) {
        let end = Self.now() + milliseconds
        while !stopped, Self.now() < end { usleep(UInt32(min(20, max(1, end - Self.now())) * 1000)) }
    }

    static func now() -> Int64 { wallClockMilliseconds() }
}
