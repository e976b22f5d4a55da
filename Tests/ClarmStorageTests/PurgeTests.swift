import Glibc
import Synchronization
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// The physical step of erasure: after a purge no file under the data directory holds an erased visitor's
/// id or email, other visitors' events are all still there once, and a crash or an I/O failure at any step of
/// it loses and duplicates nothing.
@Suite struct PurgeTests {
    static let site = "shop.example.com"
    static let visitor = "erase-me-5b1f0c9e2d7a4836"
    static let email = "gone.person.5b1f0c9e@mail.example"

    /// Events of the visitor to erase, numbered from 10,000 (their URL says so, like `makeEvent`'s).
    static func erasedEvents(_ numbers: Range<Int>) -> [EventRecord] {
        numbers.map { n in
            EventRecord(timestamp: 1_793_866_759_685 + Int64(n) * 1_000, receivedAt: 1_793_866_800_000 + Int64(n),
                        event: n % 2 == 0 ? "identify" : "page_view", visitorID: visitor, sessionID: "s-\(visitor)",
                        eventID: "erased-\(n)", url: "https://\(site)/e/\(n)", referrer: "", userAgent: "Mozilla/5.0",
                        properties: n % 2 == 0 ? #"{"email":"\#(email)","name":"Gone Person"}"# : "", site: site)
        }
    }

    func options(_ paused: Bool = false) -> StoreOptions {
        var options = StoreOptions()
        options.shards = 1
        options.purgesPaused = paused
        return options
    }

    func numbers(_ store: Store) throws -> [Int] {
        try store.allEvents().compactMap(eventNumber).sorted()
    }

    /// Other visitors' events 0..<150 and the visitor's in three places: a segment shared with others, a
    /// segment of its own and, unless `sealAll`, the log and the memtable. Returns the store, open.
    func fill(_ path: String, _ fs: FileSystem = PosixFileSystem(), options: StoreOptions, sealAll: Bool = false) throws -> Store {
        var store = try Store(directory: path, options: options, fileSystem: fs)
        _ = store.appendAndWait((0..<100).map { makeEvent($0) } + Self.erasedEvents(10_000..<10_005))
        store.close()
        store = try Store(directory: path, options: options, fileSystem: fs)
        _ = store.appendAndWait(Self.erasedEvents(10_005..<10_010))
        store.close()
        store = try Store(directory: path, options: options, fileSystem: fs)
        _ = store.appendAndWait((100..<150).map { makeEvent($0) } + Self.erasedEvents(10_010..<10_013))
        if sealAll {
            store.close()
            store = try Store(directory: path, options: options, fileSystem: fs)
        }
        return store
    }

    /// Files under the data directory that hold the visitor's id or email.
    func holding(_ path: String) -> [String] {
        filesContaining(Self.visitor, under: path) + filesContaining(Self.email, under: path)
    }

    @Test func aPurgeLeavesNoByteOfTheErasedVisitorInAnyFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try fill(directory.path, options: options())
        let before = holding(directory.path)
        #expect(before.contains { $0.hasSuffix(".cseg") } && before.contains { $0.hasSuffix(".log") }, "\(before)")
        #expect(try numbers(store).count == 150 + 13)

        try store.erase(site: Self.site, visitor: Self.visitor)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) }, "the purge ends")
        #expect(holding(directory.path) == [], "no file names the visitor")
        #expect(try numbers(store) == Array(0..<150), "every other event, once")
        #expect(store.metrics.erasureSegmentsRewritten.value() == 2)
        #expect(store.metrics.erasureEventsPurged.value() == 13)
        store.close()

        #expect(holding(directory.path) == [])
        let reopened = try Store(directory: directory.path, options: options())
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<150))
        #expect(reopened.snapshot()[0].erased.isEmpty)
    }

    @Test func eventsArrivingAfterThePurgeAreNewDataAndThoseBeforeItAreHidden() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path, options: options(true))
        defer { store.close() }
        _ = store.appendAndWait(Self.erasedEvents(10_000..<10_002) + [makeEvent(0)])
        try store.erase(site: Self.site, visitor: Self.visitor)
        // While the tombstone stands, the visitor's new events are hidden too, and the purge drops them.
        _ = store.appendAndWait(Self.erasedEvents(10_002..<10_004))
        #expect(try numbers(store) == [0])
        store.pausePurges(false)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) })
        #expect(try numbers(store) == [0])
        _ = store.appendAndWait(Self.erasedEvents(10_004..<10_005))
        #expect(try numbers(store) == [0, 10_004], "the visitor's events after the purge are new data")
    }

    /// A crash at any rename of the erasure and its purge (the tombstone, the seal's ids and segment, each
    /// rewritten segment): the directory as it was then opens with every other event once and none of the
    /// visitor's, and the purge it resumes leaves no byte of the visitor.
    @Test func aCrashAtAnyStepOfThePurgeLosesAndDuplicatesNothing() throws {
        let directory = TemporaryDirectory()
        let copies = TemporaryDirectory()
        defer {
            directory.remove()
            copies.remove()
        }
        let fs = FaultInjectingFileSystem()
        let store = try fill(directory.path, fs, options: options())
        let taken = Mutex(0)
        fs.afterRename { _ in
            let n = taken.withLock { count in
                count += 1
                return count
            }
            _ = system("cp -a '\(directory.path)' '\(copies.path)/\(n)'")
        }
        try store.erase(site: Self.site, visitor: Self.visitor)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) })
        fs.afterRename { _ in }
        store.close()
        let count = taken.withLock { $0 }
        // The tombstone, the seal's ids file and segment, two rewrites (one segment is deleted whole: no rename).
        #expect(count >= 4)

        for n in 1...count {
            let copy = "\(copies.path)/\(n)"
            let reopened = try Store(directory: copy, options: options())
            #expect(try numbers(reopened) == Array(0..<150), "crash after rename \(n)")
            #expect(waitFor(seconds: 10) { !reopened.erasurePending(site: Self.site, visitor: Self.visitor) }, "crash after rename \(n)")
            #expect(holding(copy) == [], "crash after rename \(n)")
            #expect(try numbers(reopened) == Array(0..<150), "crash after rename \(n)")
            reopened.close()
        }
    }

    /// A rewrite whose write, fsync or rename fails leaves the old segment in place and no temporary file,
    /// reports the problem, keeps the visitor hidden, and is retried until it succeeds.
    @Test(arguments: [FaultInjectingFileSystem.Operation.write, .sync, .rename])
    func aFailingRewriteKeepsEverythingAndIsRetried(_ operation: FaultInjectingFileSystem.Operation) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try fill(directory.path, fs, options: options(true), sealAll: true)
        try store.erase(site: Self.site, visitor: Self.visitor)
        fs.fail(operation, forever: true)
        store.pausePurges(false)
        #expect(waitFor(seconds: 10) { fs.failures >= 2 }, "the rewrite fails, and is tried again")
        #expect(store.health().problems.contains { $0.contains("purging erased visitors failed") })
        #expect(store.erasurePending(site: Self.site, visitor: Self.visitor))
        #expect(try numbers(store) == Array(0..<150))
        // No rewrite left a temporary file (the spare log, made ahead for the next log, is not one).
        #expect(try fs.list(directory.path + "/shard-000").allSatisfy { !$0.hasSuffix(".tmp") || $0 == Shard.spareLogName })

        fs.heal()
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) })
        #expect(store.health().problems.isEmpty)
        #expect(holding(directory.path) == [])
        #expect(try numbers(store) == Array(0..<150))
        store.halt()
        let reopened = try Store(directory: directory.path, options: options())
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<150))
        #expect(holding(directory.path) == [])
    }

    /// Events the visitor sends while its purge runs keep the tombstone (they would otherwise come back as
    /// soon as it is retired); the next purge, once they are old enough to seal, drops them and retires it.
    @Test func eventsSentDuringThePurgeKeepTheTombstoneUntilASealDropsThem() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var options = options()
        options.sealInterval = 300
        let store = try fill(directory.path, fs, options: options, sealAll: true)
        defer { store.close() }
        let sent = Mutex(false)
        // The rewrite's segment is published: the visitor sends one more event before the purge ends.
        fs.afterRename { path in
            guard path.hasSuffix(".cseg"), !sent.withLock({ sent in defer { sent = true }; return sent }) else { return }
            _ = store.appendAndWait(Self.erasedEvents(10_020..<10_021))
        }
        try store.erase(site: Self.site, visitor: Self.visitor)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) })
        #expect(sent.withLock { $0 })
        #expect(try numbers(store) == Array(0..<150), "the event sent during the purge stays erased")
        #expect(store.metrics.erasureEventsPurged.value() == 14)
        #expect(holding(directory.path) == [])
    }

    /// The same visitor id on another site is another visitor: its events stay.
    @Test func aVisitorIsErasedOnOneSiteOnly() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path, options: options())
        defer { store.close() }
        var elsewhere = Self.erasedEvents(10_005..<10_006)[0]
        elsewhere.site = "other.example.com"
        _ = store.appendAndWait(Self.erasedEvents(10_000..<10_002) + [elsewhere, makeEvent(0)])
        try store.erase(site: Self.site, visitor: Self.visitor)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: Self.site, visitor: Self.visitor) })
        #expect(try numbers(store) == [0, 10_005])
    }
}

/// The purge and the change feed: logs a consumer has not read stay, and so does the tombstone, until it has.
@Suite struct PurgeFeedTests {
    @Test func logsAConsumerHasNotReadKeepTheTombstoneUntilItHas() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealInterval = 300
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let feed = try store.feed(consumer: "lagging")
        _ = store.appendAndWait((0..<20).map { makeEvent($0) } + PurgeTests.erasedEvents(10_000..<10_004))
        let holding = { filesContaining(PurgeTests.visitor, under: directory.path) + filesContaining(PurgeTests.email, under: directory.path) }

        try store.erase(site: PurgeTests.site, visitor: PurgeTests.visitor)
        // Segments and memtable lose the visitor; the log the consumer has not read keeps its events, and the
        // tombstone stands.
        #expect(waitFor(seconds: 10) { store.snapshot()[0].segments.count == 1 })
        usleep(1_000_000)  // several purge attempts, a seal interval apart
        #expect(holding().allSatisfy { $0.hasSuffix(".log") || $0.hasSuffix("erasures") } && !holding().isEmpty, "\(holding())")
        #expect(store.erasurePending(site: PurgeTests.site, visitor: PurgeTests.visitor))

        // The consumer gets every other event and none of the erased visitor's.
        var visitors: [String] = []
        while let batch = try feed.read(shard: 0) {
            visitors += batch.events.map(\.visitorID)
            try feed.acknowledge(batch)
        }
        #expect(visitors.count == 20 && !visitors.contains(PurgeTests.visitor), "\(visitors)")

        // Once it has read past them, the logs go and the tombstone is retired: no file names the visitor.
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: PurgeTests.site, visitor: PurgeTests.visitor) })
        #expect(holding() == [])
    }

    @Test func aConsumerThatHasReadEverythingHoldsNoLogOfAnIdleShard() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealInterval = 300
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let feed = try store.feed(consumer: "current")
        _ = store.appendAndWait((0..<20).map { makeEvent($0) } + PurgeTests.erasedEvents(10_000..<10_004))
        while let batch = try feed.read(shard: 0) { try feed.acknowledge(batch) }

        // No event comes after the erasure: the consumer's cursor sits at the end of the log the purge's seal
        // closes, which it no longer needs, so the purge finishes without waiting for traffic.
        try store.erase(site: PurgeTests.site, visitor: PurgeTests.visitor)
        #expect(waitFor(seconds: 10) { !store.erasurePending(site: PurgeTests.site, visitor: PurgeTests.visitor) })
        #expect(filesContaining(PurgeTests.visitor, under: directory.path) == [])
        #expect(try feed.read(shard: 0).map(\.events.count) ?? 0 == 0, "nothing more to read")
    }
}
