import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

@Suite struct StoreTests {
    func options(shards: Int = 2, sealEvents: Int = 250_000) -> StoreOptions {
        var options = StoreOptions()
        options.shards = shards
        options.sealEvents = sealEvents
        options.compactionFanIn = 1_000  // compaction has its own tests
        return options
    }

    func numbers(_ store: Store) throws -> [Int] {
        try store.allEvents().compactMap(eventNumber).sorted()
    }

    @Test func appendsAreVisibleAndSurviveAReopen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let events = (0..<1000).map { makeEvent($0, visitors: 50) }
        do {
            let store = try Store(directory: directory.path, options: options())
            let outcomes = store.appendAndWait(events)
            #expect(outcomes.compactMap(\.accepted).reduce(0, +) == 1000)
            #expect(try numbers(store) == Array(0..<1000))
            store.close()
        }
        // A cleanly closed store holds segments, not logs.
        let files = try PosixFileSystem().list(directory.path + "/shard-000") + PosixFileSystem().list(directory.path + "/shard-001")
        #expect(files.allSatisfy { $0.hasPrefix("seg-") || $0.hasPrefix("ids-") || $0 == "LOCK" })
        #expect(files.contains { $0.hasPrefix("seg-") })

        let reopened = try Store(directory: directory.path, options: options(shards: 5))
        defer { reopened.close() }
        #expect(reopened.shardCount == 2, "the manifest keeps the shard count")
        let all = try reopened.allEvents()
        #expect(all.count == 1000)
        #expect(Set(all) == Set(events.map(stored)))
    }

    @Test func visitorsStayInOneShard() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path, options: options(shards: 4))
        defer { store.close() }
        _ = store.appendAndWait((0..<400).map { makeEvent($0, visitors: 40) })
        var shardsOfVisitor: [String: Set<Int>] = [:]
        for (index, shard) in store.snapshot().enumerated() {
            for memtable in shard.memtables {
                memtable.forEachChunk { chunk in
                    EventRecordView.forEach(in: chunk) { shardsOfVisitor[$0.record.visitorID, default: []].insert(index) }
                }
            }
        }
        #expect(shardsOfVisitor.count == 40)
        #expect(shardsOfVisitor.values.allSatisfy { $0.count == 1 })
        #expect(Set(shardsOfVisitor.values.map { $0.first! }).count > 1)
    }

    @Test func recoversFromTheLogAfterACrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let crashed = try Store(directory: directory.path, options: options())
        _ = crashed.appendAndWait((0..<300).map { makeEvent($0) })
        // No close: the process "dies" here and a new one opens the same directory.
        crashed.halt()
        let notices = Notices()
        let store = try Store(directory: directory.path, options: options(), report: notices.report)
        defer { store.close() }
        #expect(try numbers(store) == Array(0..<300))
        #expect(notices.all.isEmpty)
    }

    @Test func deduplicatesByEventID() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try Store(directory: directory.path, options: options(shards: 1))
            let first = store.appendAndWait([makeEvent(1), makeEvent(2), makeEvent(1), makeEvent(3, eventID: "")])
            #expect(first.first?.accepted == 3)
            #expect(first.first?.duplicates == 1)
            let retry = store.appendAndWait([makeEvent(2), makeEvent(4), makeEvent(3, eventID: "")])
            #expect(retry.first?.accepted == 2, "an event without event_id is never a duplicate")
            #expect(retry.first?.duplicates == 1)
            #expect(try store.allEvents().count == 5)
            store.halt()
        }
        // After a crash the window comes back from the log…
        do {
            let store = try Store(directory: directory.path, options: options(shards: 1))
            #expect(store.appendAndWait([makeEvent(1), makeEvent(4)]).first?.duplicates == 2)
            store.close()
        }
        // …and after a clean close, from the seal's ids file.
        let store = try Store(directory: directory.path, options: options(shards: 1))
        defer { store.close() }
        #expect(store.appendAndWait([makeEvent(2), makeEvent(5)]).first?.duplicates == 1)
        #expect(try store.allEvents().count == 6)
    }

    @Test func sealsByCountAndDropsCoveredLogs() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path, options: options(shards: 1, sealEvents: 100))
        for batch in 0..<10 {
            _ = store.appendAndWait((0..<50).map { makeEvent(batch * 50 + $0) })
        }
        // Seals run in the background; wait for them to land.
        for _ in 0..<100 where store.snapshot()[0].memtables.count > 1 { usleep(20_000) }
        let snapshot = store.snapshot()[0]
        #expect(snapshot.segments.count >= 4)
        #expect(try numbers(store) == Array(0..<500))
        let logs = try PosixFileSystem().list(directory.path + "/shard-000").filter { $0.hasPrefix("wal-") }
        #expect(logs.count <= 2, "\(logs)")
        store.close()
        let reopened = try Store(directory: directory.path, options: options(shards: 1))
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<500))
    }

    @Test func tornLogTailIsDroppedAndCorruptionIsReported() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            let store = try Store(directory: directory.path, options: options(shards: 1))
            for n in 0..<3 { _ = store.appendAndWait([makeEvent(n)]) }
            store.halt()
        }
        let shard = directory.path + "/shard-000"
        let log = try #require(try PosixFileSystem().list(shard).first { $0.hasPrefix("wal-") })
        var bytes = try PosixFileSystem().readAll(shard + "/" + log)

        // A torn tail: half a fragment header.
        let torn = try PosixFileSystem().create(shard + "/" + log)
        try (bytes + [0x12, 0x34, 0x56]).withBytes { raw throws(StorageIOError) in try torn.append(raw) }
        torn.close()
        let notices = Notices()
        do {
            let store = try Store(directory: directory.path, options: options(shards: 1), report: notices.report)
            #expect(try numbers(store) == [0, 1, 2])
            #expect(notices.all.contains { $0.contains("dropped an incomplete last record") })
            store.halt()
        }

        // A flipped bit in the second record: the first is kept, the damage is named.
        bytes[bytes.count / 2] ^= 0x01
        let damaged = try PosixFileSystem().create(shard + "/" + log)
        try bytes.withBytes { raw throws(StorageIOError) in try damaged.append(raw) }
        damaged.close()
        let later = Notices()
        let store = try Store(directory: directory.path, options: options(shards: 1), report: later.report)
        defer { store.close() }
        #expect(try numbers(store) == [0])
        #expect(later.all.contains { $0.contains("corruption") && $0.contains(log) })
    }
}

@Suite struct StoreFaultTests {
    func open(_ directory: TemporaryDirectory, _ fs: FaultInjectingFileSystem, notices: Notices = Notices()) throws -> Store {
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 64
        return try Store(directory: directory.path, options: options, fileSystem: fs, report: notices.report)
    }

    /// Each event is either wholly there once, or not there at all; every acknowledged one is there.
    func check(_ store: Store, acknowledged: Set<Int>, attempted: Set<Int>) throws {
        let numbers = try store.allEvents().compactMap(eventNumber)
        #expect(numbers.count == Set(numbers).count, "no event twice")
        #expect(acknowledged.isSubset(of: Set(numbers)), "missing: \(acknowledged.subtracting(numbers).sorted())")
        #expect(Set(numbers).isSubset(of: attempted))
    }

    @Test(arguments: [FaultInjectingFileSystem.Operation.write, .sync])
    func aFailedWriteOrSyncIsNotAcknowledged(_ operation: FaultInjectingFileSystem.Operation) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var acknowledged = Set<Int>()
        do {
            let store = try open(directory, fs)
            for n in 0..<20 {
                if n == 7 { fs.fail(operation) }
                let outcome = store.appendAndWait([makeEvent(n)])[0]
                if outcome.accepted == 1 { acknowledged.insert(n) }
                #expect(outcome.failed == (n == 7), "event \(n)")
            }
            #expect(fs.failures == 1)
            #expect(!(try store.allEvents().compactMap(eventNumber).contains(7)), "a failed append is not visible")
            try check(store, acknowledged: acknowledged, attempted: Set(0..<20))
            store.halt()
        }
        fs.heal()
        let store = try open(directory, fs)
        defer { store.close() }
        try check(store, acknowledged: acknowledged, attempted: Set(0..<20))
    }

    @Test func aPersistentFaultFailsEveryAppendAndHealingResumes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try open(directory, fs)
        defer { store.close() }
        fs.fail(.write, forever: true, errno: ENOSPC)
        for n in 0..<5 { #expect(store.appendAndWait([makeEvent(n)])[0].failed) }
        let logs = try fs.list(directory.path + "/shard-000").filter { $0.hasPrefix("wal-") }
        #expect(logs.count <= 2, "failed logs without acknowledged events are removed: \(logs)")
        fs.heal()
        #expect(store.appendAndWait([makeEvent(9)])[0].accepted == 1)
        #expect(try store.allEvents().compactMap(eventNumber) == [9])
    }

    @Test func acknowledgedEventsSurviveAPowerCut() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var acknowledged = Set<Int>()
        let store = try open(directory, fs)
        for n in 0..<300 {
            if store.appendAndWait([makeEvent(n)])[0].accepted == 1 { acknowledged.insert(n) }
        }
        store.halt()
        fs.powerCut()
        let notices = Notices()
        let reopened = try open(directory, fs, notices: notices)
        defer { reopened.close() }
        #expect(acknowledged.count == 300)
        try check(reopened, acknowledged: acknowledged, attempted: Set(0..<300))
    }

    @Test func aFailedSealIsRetriedAndLosesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let notices = Notices()
        let store = try open(directory, fs, notices: notices)
        fs.fail(.rename, nth: 1)
        for n in 0..<200 { _ = store.appendAndWait([makeEvent(n)]) }
        store.close()
        #expect(notices.all.contains { $0.contains("sealing") && $0.contains("failed") })
        let reopened = try open(directory, fs)
        defer { reopened.close() }
        try check(reopened, acknowledged: Set(0..<200), attempted: Set(0..<200))
    }
}

@Suite struct CompactionAndRetentionTests {
    @Test func compactionMergesSmallSegmentsAndLosesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 50
        options.compactionFanIn = 3
        options.compactionRows = 400
        let store = try Store(directory: directory.path, options: options)
        for batch in 0..<24 { _ = store.appendAndWait((0..<25).map { makeEvent(batch * 25 + $0) }) }
        store.close()
        let segments = try PosixFileSystem().list(directory.path + "/shard-000").filter { $0.hasSuffix(".cseg") }
        #expect(segments.count < 12, "12 seals of 50 were compacted: \(segments)")
        let reopened = try Store(directory: directory.path, options: options)
        defer { reopened.close() }
        let numbers = try reopened.allEvents().compactMap(eventNumber).sorted()
        #expect(numbers == Array(0..<600))
        #expect(reopened.snapshot()[0].segments.contains { !$0.replaces.isEmpty })
    }

    @Test func inputsLeftByACrashedCompactionAreNotCountedTwice() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 40
        options.compactionFanIn = 1_000  // no compaction while the inputs are saved
        let shard = directory.path + "/shard-000"
        let fs = PosixFileSystem()
        do {
            let store = try Store(directory: directory.path, options: options)
            for batch in 0..<4 { _ = store.appendAndWait((0..<40).map { makeEvent(batch * 40 + $0) }) }
            store.close()
        }
        let inputs = try fs.list(shard).filter { $0.hasSuffix(".cseg") }
        let saved = try inputs.map { try fs.readAll(shard + "/" + $0) }
        options.compactionFanIn = 2
        options.compactionRows = 10_000
        do {
            let store = try Store(directory: directory.path, options: options)
            _ = store.appendAndWait((160..<200).map { makeEvent($0) })
            store.close()
        }
        // Put an input back, as if the process died between publishing the merge and deleting its inputs.
        let file = try fs.create(shard + "/" + inputs[0])
        try saved[0].withBytes { raw throws(StorageIOError) in try file.append(raw) }
        file.close()
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        #expect(try store.allEvents().compactMap(eventNumber).sorted() == Array(0..<200))
        #expect(!fs.exists(shard + "/" + inputs[0]))
    }

    @Test func retentionDeletesOldSegments() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.retentionDays = 30
        do {
            let store = try Store(directory: directory.path, options: options)
            // makeEvent's timestamps are in November 2026; these are from 2020.
            var old = (0..<10).map { makeEvent($0) }
            for i in old.indices { old[i].timestamp = 1_577_836_800_000 + Int64(i) }
            _ = store.appendAndWait(old)
            store.close()
        }
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        _ = store.appendAndWait((100..<110).map { makeEvent($0) })
        for _ in 0..<60 where !store.snapshot()[0].segments.isEmpty { usleep(50_000) }
        #expect(store.snapshot()[0].segments.isEmpty)
        #expect(try store.allEvents().compactMap(eventNumber).sorted() == Array(100..<110))
    }
}
