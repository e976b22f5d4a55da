import ClarmEvents
import Glibc

/// The change feed's side of a shard (`ChangeFeed.swift`, docs/FORMAT.md "Change feed"): consumers' cursors,
/// reading committed records by pread(2) without touching the writer, and which logs the feed keeps.
///
/// What it assumes of the WAL: a shard writes one log at a time, numbered upward; a log is never appended to
/// once a later one is started; a record's bytes up to the published commit point (`ShardFeeds.committed`)
/// never change; a log cut back after a failed write is cut to its last commit point (or records it in
/// `wal-N.valid`).
extension Shard {
    // MARK: Consumers

    /// Reads the consumers' cursor files (in `recover`, before logs are released). A damaged file cannot say
    /// where its consumer was: it starts again at the oldest log kept, so events are repeated, never skipped.
    func loadFeedCursors(_ names: [String]) {
        var cursors: [String: FeedCursor] = [:]
        for name in names {
            guard let consumer = FeedCursor.consumer(inFileName: name) else { continue }
            if let cursor = (try? fs.readAll(path(name))).flatMap(FeedCursor.decode) {
                cursors[consumer] = cursor
            } else {
                report("corruption: \(path(name)) is damaged; consumer \(consumer) reads again from the oldest log kept")
                cursors[consumer] = FeedCursor(position: FeedPosition(log: 0, offset: 0))
            }
        }
        feeds.cursors.withLock { $0 = cursors }
    }

    /// Creates the consumer's cursor at the commit point (only later events reach it), unless it exists.
    func feedCreate(consumer: String) throws(StoreError) {
        try feeds.cursors.withLock { cursors throws(StoreError) in
            if cursors[consumer] != nil { return }
            let position = feeds.horizon.withLock { FeedPosition(log: $0.log, offset: $0.committed) }
            let cursor = FeedCursor(position: position)
            try saveCursor(cursor, of: consumer)
            cursors[consumer] = cursor
        }
    }

    /// Deletes the consumer's cursor; the logs it held back go at the next maintenance turn.
    func feedRemove(consumer: String) throws(StoreError) {
        try feeds.cursors.withLock { cursors throws(StoreError) in
            guard cursors[consumer] != nil else { return }
            do throws(StorageIOError) {
                try fs.remove(path(FeedCursor.fileName(consumer)))
                try fs.syncDirectory(directory)
            } catch {
                throw StoreError("cannot remove the cursor of \(consumer): \(error)", retryAfter: 5)
            }
            cursors[consumer] = nil
        }
    }

    func feedAcknowledge(consumer: String, through position: FeedPosition) throws(StoreError) {
        try feeds.cursors.withLock { cursors throws(StoreError) in
            guard var cursor = cursors[consumer] else { throw StoreError("no change-feed consumer \(consumer)") }
            guard position > cursor.position else { return }
            let horizon = feeds.horizon.withLock { FeedPosition(log: $0.log, offset: $0.committed) }
            guard position <= horizon else {
                throw StoreError("position \(position) is past shard \(index)'s commit point \(horizon)")
            }
            cursor.position = position
            try saveCursor(cursor, of: consumer)
            cursors[consumer] = cursor
        }
    }

    private func saveCursor(_ cursor: FeedCursor, of consumer: String) throws(StoreError) {
        let file = path(FeedCursor.fileName(consumer))
        do throws(StorageIOError) {
            try fs.publish(cursor.encode(), as: file, in: directory)
        } catch {
            try? fs.remove(file + ".tmp")
            throw StoreError("cannot record the change-feed cursor of \(consumer): \(error)", retryAfter: 5)
        }
    }

    func feedState(consumer: String) -> FeedShardState? {
        guard let cursor = feeds.cursors.withLock({ $0[consumer] }) else { return nil }
        let horizon = feeds.horizon.withLock { $0 }
        var backlog = 0
        for (number, _) in logFiles() where number >= cursor.position.log && number <= horizon.log {
            let end = number == horizon.log ? horizon.committed : logEnd(number, horizon)
            let start = number == cursor.position.log ? cursor.position.offset : 0
            backlog += max(0, min(end, (try? fs.size(path(Self.logName(number)))) ?? 0) - start)
        }
        return FeedShardState(shard: index, cursor: cursor.position, backlogBytes: backlog,
                              lostEvents: cursor.lostEvents, skippedLogs: cursor.skipped)
    }

    // MARK: Reading

    func feedRead(consumer: String, after start: FeedPosition?, maxEvents: Int, maxBytes: Int) throws(StoreError) -> FeedBatch? {
        guard let cursor = feeds.cursors.withLock({ $0[consumer] }) else {
            throw StoreError("no change-feed consumer \(consumer)")
        }
        let origin = max(cursor.position, start ?? cursor.position)
        let erased = view.withLock { $0.erased }
        var events: [EventRecord] = []
        var position = origin
        var bytes = 0
        while events.count < maxEvents && bytes < maxBytes {
            let horizon = feeds.horizon.withLock { $0 }
            let current = position.log == horizon.log
            if position.log > horizon.log || (current && position.offset >= horizon.committed) { break }
            let end = current ? horizon.committed : logEnd(position.log, horizon)
            let read = try forEachEvent(inLog: position.log, from: position.offset, to: end,
                                    maxEvents: maxEvents - events.count, maxBytes: maxBytes - bytes) { view in
                if !erased.contains(site: view.site, visitor: view.visitorID) { events.append(view.record) }
            }
            let progressed = read.offset > position.offset
            bytes += read.offset - position.offset
            position = FeedPosition(log: position.log, offset: read.offset)
            if current && !progressed { break }
            if current || !read.finished { continue }
            // A closed log read to its end: go on in the next one there is (logs without events may be gone).
            position = FeedPosition(log: logFiles().first { $0.0 > position.log }?.0 ?? horizon.log, offset: 0)
        }
        return position == origin ? nil : FeedBatch(shard: index, events: events, start: origin, end: position)
    }

    /// Where a closed log's acknowledged records end: as this process closed it, as its `wal-N.valid` says, or
    /// its whole file (a torn last record then ends the reading).
    private func logEnd(_ number: UInt64, _ horizon: ShardFeeds.Horizon) -> Int {
        if let length = horizon.closed[number] { return length }
        if let marker = try? fs.readAll(path(LogCommitPoint.name(number))), let length = LogCommitPoint.decode(marker) {
            return length
        }
        return Int.max
    }

    /// Calls `body` with the events of log `number` from `offset` (a record boundary) to at most `end`, whole
    /// records until about `maxEvents` or `maxBytes` (at least one). Returns where it stopped, and whether
    /// that is the log's end: `end`, the end of the file, a torn last record, damage (reported), or a log that
    /// is gone. Any other read error throws: the caller tries again later rather than skip the log's events.
    func forEachEvent(inLog number: UInt64, from offset: Int, to end: Int, maxEvents: Int, maxBytes: Int,
                      _ body: (EventRecordView) -> Void) throws(StoreError) -> (offset: Int, finished: Bool) {
        let file = path(Self.logName(number))
        var window = max(maxBytes, 64 << 10)
        while true {
            let origin = offset - offset % LogFormat.blockSize
            let wanted = min(end, offset + window) - origin
            guard wanted > offset - origin else { return (offset, true) }
            let bytes: [UInt8]
            do throws(StorageIOError) {
                bytes = try fs.read(file, offset: origin, count: wanted)
            } catch where error.errno == ENOENT {
                return (offset, true)
            } catch {
                throw StoreError("change feed: \(error)", retryAfter: 1)
            }
            let wholeRange = bytes.count < wanted || origin + bytes.count >= end
            var reader = LogReader(bytes: bytes, path: file, origin: origin, start: offset)
            var events = 0
            var reached = offset
            while events < maxEvents && reached - offset < maxBytes, let record = reader.next() {
                guard record.count >= 5, record[0] == 1 else {
                    report("corruption: \(file): a record of unknown kind at byte \(reached); the change feed skips the rest of this log")
                    return (reached, true)
                }
                record.withUnsafeBytes { raw in
                    _ = EventRecordView.forEach(in: UnsafeRawBufferPointer(rebasing: raw[5...])) { view in
                        events += 1
                        body(view)
                    }
                }
                reached = reader.offset
            }
            // Zeros where a fragment header should start end the log (a spare's zero-filled tail, left by an
            // earlier process), as they end recovery's reading: no need to read on to the file's end.
            let stoppedAtZeros = reader.end == .clean && reader.offset < origin + bytes.count
            if reached > offset { return (reached, (wholeRange && reader.end != nil) || stoppedAtZeros) }
            if wholeRange || stoppedAtZeros {
                if case .corruption(let damage)? = reader.end {
                    report("corruption: \(damage); the change feed skips the rest of this log")
                }
                return (offset, true)
            }
            // One record larger than the window: read more of it.
            window *= 2
        }
    }

    // MARK: Retention

    /// Deletes the logs segments cover (all numbered up to `covered`) that no consumer still needs. The ones
    /// consumers need stay, up to `feedRetentionBytes`: past it the oldest go anyway, after the consumers
    /// still in them are moved past them and their events counted as lost.
    func releaseLogs(coveredThrough covered: UInt64) {
        let logs = logFiles().map(\.0)
        let oldestNeeded = feeds.oldestNeededLog ?? .max
        var kept: [(number: UInt64, bytes: Int)] = []
        for number in logs where number <= covered {
            if number < oldestNeeded {
                removeLog(number)
            } else {
                kept.append((number, (try? fs.size(path(Self.logName(number)))) ?? 0))
            }
        }
        var total = kept.reduce(0) { $0 + $1.bytes }
        while total > options.feedRetentionBytes, let oldest = kept.first {
            let next = logs.first { $0 > oldest.number } ?? oldest.number + 1
            guard moveConsumers(pastLog: oldest.number, to: next) else { break }
            removeLog(oldest.number)
            total -= oldest.bytes
            kept.removeFirst()
        }
        let oldestKept = kept.first?.number ?? covered + 1
        feeds.horizon.withLock { horizon in horizon.closed = horizon.closed.filter { $0.key >= oldestKept } }
    }

    /// Moves every consumer whose cursor is in or before log `number` to the start of log `next`, adding the
    /// events it had not acknowledged there to its lost count. False when a cursor cannot be written: the log
    /// then stays.
    private func moveConsumers(pastLog number: UInt64, to next: UInt64) -> Bool {
        feeds.cursors.withLock { cursors in
            let horizon = feeds.horizon.withLock { $0 }
            for (consumer, cursor) in cursors where cursor.position.log <= number {
                var lost: UInt64 = 0
                var offset = cursor.position.log == number ? cursor.position.offset : 0
                do throws(StoreError) {
                    while true {
                        let read = try forEachEvent(inLog: number, from: offset, to: logEnd(number, horizon),
                                                    maxEvents: .max, maxBytes: 1 << 20) { _ in lost += 1 }
                        offset = read.offset
                        if read.finished { break }
                    }
                } catch {
                    report("shard \(index): \(error); \(Self.logName(number)) stays past the change-feed retention bound")
                    return false
                }
                var moved = cursor
                moved.position = FeedPosition(log: next, offset: 0)
                moved.lostEvents += lost
                moved.skipped = min(cursor.position.log, number)...number
                do throws(StoreError) {
                    try saveCursor(moved, of: consumer)
                } catch {
                    report("shard \(index): \(error); \(Self.logName(number)) stays past the change-feed retention bound")
                    return false
                }
                report("shard \(index): change-feed consumer \(consumer) lost \(lost) events: \(Self.logName(number)) "
                       + "was deleted past the retention bound of \(options.feedRetentionBytes) bytes before it was read")
                cursors[consumer] = moved
            }
            return true
        }
    }
}
