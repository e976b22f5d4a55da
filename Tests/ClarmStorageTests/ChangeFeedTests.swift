import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// The change feed: exactly the acknowledged events, once each when acknowledged, across log rolls, seals,
/// reopens and crashes; retention held back by consumers and bounded; faults on the cursor file.
@Suite struct ChangeFeedTests {
    func open(_ directory: TemporaryDirectory, fs: FileSystem = PosixFileSystem(), shards: Int = 2,
              sealEvents: Int = 40, retention: Int = 4 << 30, notices: Notices = Notices()) throws -> Store {
        var options = StoreOptions()
        options.shards = shards
        options.sealEvents = sealEvents
        options.feedRetentionBytes = retention
        return try Store(directory: directory.path, options: options, fileSystem: fs, report: notices.report)
    }

    /// Reads and acknowledges everything committed now, all shards, returning the events' numbers.
    @discardableResult
    func drain(_ feed: ChangeFeed, acknowledge: Bool = true, maxEvents: Int = 17) throws -> [EventRecord] {
        var events: [EventRecord] = []
        for shard in 0..<feed.shardCount {
            while let batch = try feed.read(shard: shard, maxEvents: maxEvents, maxBytes: 4096) {
                events += batch.events
                guard acknowledge else { break }
                try feed.acknowledge(batch)
            }
        }
        return events
    }

    func logCount(_ directory: TemporaryDirectory, shard: Int = 0) -> Int {
        ((try? PosixFileSystem().list("\(directory.path)/shard-00\(shard)")) ?? []).filter { $0.hasSuffix(".log") }.count
    }

    /// Runs a maintenance turn after the seals the last commits started.
    func maintain(_ store: Store) {
        for shard in store.shards {
            shard.writer.sync {}
            shard.sealer.sync { shard.maintain() }
        }
    }

    @Test func aNewConsumerReadsEachLaterEventOnceAcrossRollsAndSeals() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try open(directory)
        defer { store.close() }
        _ = store.appendAndWait((0..<30).map { makeEvent($0) })
        let feed = try store.feed(consumer: "dest-1")
        var seen: [EventRecord] = []
        for round in 0..<20 {
            _ = store.appendAndWait((0..<25).map { makeEvent(1000 + round * 25 + $0) })
            seen += try drain(feed)
        }
        let numbers = seen.compactMap(eventNumber)
        #expect(numbers.sorted() == Array(1000..<1500))
        // Per visitor (hence per shard) in the order appended.
        for visitor in 0..<7 {
            let mine = seen.filter { $0.visitorID == "visitor-\(visitor)" }.compactMap(eventNumber)
            #expect(mine == mine.sorted())
        }
        #expect(seen.allSatisfy { !$0.eventID.isEmpty })
        #expect(try feed.read(shard: 0) == nil && feed.read(shard: 1) == nil)
        #expect(feed.state().allSatisfy { $0.backlogBytes == 0 && $0.lostEvents == 0 })
    }

    @Test func aCursorSurvivesAReopenAndACrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var store = try open(directory)
        var feed = try store.feed(consumer: "dest-1")
        _ = store.appendAndWait((0..<100).map { makeEvent($0) })
        var seen = try drain(feed).compactMap(eventNumber)
        _ = store.appendAndWait((100..<160).map { makeEvent($0) })
        // Read but not acknowledged: comes again.
        _ = try drain(feed, acknowledge: false)
        store.halt()

        store = try open(directory)
        feed = try store.feed(consumer: "dest-1")
        seen += try drain(feed).compactMap(eventNumber)
        _ = store.appendAndWait((160..<200).map { makeEvent($0) })
        store.close()

        store = try open(directory)
        defer { store.close() }
        feed = try store.feed(consumer: "dest-1")
        seen += try drain(feed).compactMap(eventNumber)
        #expect(seen.sorted() == Array(0..<200))
        #expect(store.feedConsumers == ["dest-1"])
    }

    /// Retention may delete every segment (and the feed every log) of an idle shard: the logs of the next
    /// start must still be numbered past the consumers' cursors, or their events would be taken as read.
    @Test func logNumbersNeverGoBackBelowACursor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var store = try open(directory, shards: 1, sealEvents: 10)
        var feed = try store.feed(consumer: "dest-1")
        for chunk in 0..<5 { _ = store.appendAndWait((chunk * 10..<(chunk + 1) * 10).map { makeEvent($0) }) }
        #expect(try drain(feed).count == 50)
        store.close()
        // What retention does to a shard whose events all expired: no segment, no log covered by one.
        let shard = "\(directory.path)/shard-000"
        for name in try PosixFileSystem().list(shard) where !name.hasPrefix("feed-") {
            try PosixFileSystem().remove("\(shard)/\(name)")
        }

        store = try open(directory, shards: 1, sealEvents: 10)
        defer { store.close() }
        feed = try store.feed(consumer: "dest-1")
        _ = store.appendAndWait((50..<60).map { makeEvent($0) })
        #expect(try drain(feed).compactMap(eventNumber) == Array(50..<60))
    }

    @Test func aStoppedConsumerHoldsLogsBackUntilItAcknowledges() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try open(directory, shards: 1, sealEvents: 20)
        defer { store.close() }
        let feed = try store.feed(consumer: "slow")
        for round in 0..<5 { _ = store.appendAndWait((0..<20).map { makeEvent(round * 20 + $0) }) }
        maintain(store)
        #expect(logCount(directory) >= 5)
        #expect(try drain(feed).count == 100)
        maintain(store)
        #expect(logCount(directory) <= 2)

        // Removing a consumer releases what it held.
        let other = try store.feed(consumer: "gone")
        for round in 0..<3 { _ = store.appendAndWait((0..<20).map { makeEvent(200 + round * 20 + $0) }) }
        try drain(feed)
        maintain(store)
        #expect(logCount(directory) >= 3)
        _ = other
        try store.removeFeed(consumer: "gone")
        maintain(store)
        #expect(logCount(directory) <= 2)
        #expect(store.feedConsumers == ["slow"])
    }

    @Test func pastTheRetentionBoundLogsGoAndTheLossIsCounted() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let notices = Notices()
        let store = try open(directory, shards: 1, sealEvents: 20, retention: 1, notices: notices)
        defer { store.close() }
        let feed = try store.feed(consumer: "lagging")
        for round in 0..<5 { _ = store.appendAndWait((0..<20).map { makeEvent(round * 20 + $0) }) }
        maintain(store)
        let state = feed.state()[0]
        #expect(state.lostEvents == 100)
        #expect(state.skippedLogs != nil)
        #expect(notices.all.contains { $0.contains("lost") })
        #expect(logCount(directory) <= 2)
        _ = store.appendAndWait((100..<110).map { makeEvent($0) })
        #expect(try drain(feed).compactMap(eventNumber) == Array(100..<110))
    }

    @Test func aFailedCursorWriteKeepsTheOldCursor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var store = try open(directory, fs: fs, shards: 1)
        let feed = try store.feed(consumer: "dest-1")
        _ = store.appendAndWait((0..<10).map { makeEvent($0) })
        let batch = try #require(try feed.read(shard: 0))
        for operation in [FaultInjectingFileSystem.Operation.write, .sync, .rename] {
            fs.fail(operation)
            #expect(throws: StoreError.self) { try feed.acknowledge(batch) }
            fs.heal()
            #expect(feed.state()[0].cursor == batch.start)
            #expect(try feed.read(shard: 0)?.end == batch.end)
        }
        store.halt()
        store = try open(directory, fs: fs, shards: 1)
        defer { store.close() }
        let again = try store.feed(consumer: "dest-1")
        #expect(try drain(again).compactMap(eventNumber) == Array(0..<10))
    }

    @Test func aRefusedGroupIsNeverRead() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var store = try open(directory, fs: fs, shards: 1)
        let now = try store.feed(consumer: "now")
        let later = try store.feed(consumer: "later")
        _ = store.appendAndWait((0..<5).map { makeEvent($0) })
        // The fsync fails and so does cutting the log back: the refused group's bytes stay in the file.
        fs.fail(.sync)
        fs.fail(.truncate)
        let refused = store.appendAndWait((5..<10).map { makeEvent($0) })
        #expect(refused.allSatisfy { $0.failed })
        fs.heal()
        _ = store.appendAndWait((10..<15).map { makeEvent($0) })
        #expect(try drain(now).compactMap(eventNumber) == Array(0..<5) + Array(10..<15))
        _ = later
        store.halt()
        // After a restart, the end of the abandoned log comes from its wal-N.valid.
        store = try open(directory, fs: fs, shards: 1)
        defer { store.close() }
        #expect(try drain(store.feed(consumer: "later")).compactMap(eventNumber) == Array(0..<5) + Array(10..<15))
    }

    @Test func erasedVisitorsAreSkipped() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try open(directory, shards: 1)
        defer { store.close() }
        let feed = try store.feed(consumer: "dest-1")
        _ = store.appendAndWait((0..<14).map { makeEvent($0) })
        try store.erase(site: "shop.example.com", visitor: "visitor-3")
        let events = try drain(feed)
        #expect(events.count == 12)
        #expect(!events.contains { $0.visitorID == "visitor-3" })
    }

    @Test func aCommitWakesAWaitingConsumer() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try open(directory, shards: 1)
        defer { store.close() }
        let feed = try store.feed(consumer: "dest-1")
        #expect(!feed.waitForCommit(milliseconds: 10))
        _ = store.appendAndWait([makeEvent(1)])
        #expect(feed.waitForCommit(milliseconds: 1000))
        #expect(throws: StoreError.self) { try store.feed(consumer: "../x") }
    }

    @Test func cursorFileRoundTripsAndRejectsDamage() {
        let cursor = FeedCursor(position: FeedPosition(log: 7, offset: 12345), lostEvents: 3, skipped: 2...4)
        let image = cursor.encode()
        #expect(image.count == FeedCursor.size)
        #expect(FeedCursor.decode(image) == cursor)
        for i in image.indices {
            var damaged = image
            damaged[i] ^= 0x40
            #expect(FeedCursor.decode(damaged) == nil)
        }
    }
}
