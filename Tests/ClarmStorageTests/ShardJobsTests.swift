import Foundation
import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// Seals, compaction and retention: failures that must not corrupt the shard's bookkeeping, and their
/// interleavings.
@Suite struct ShardJobsTests {
    func options(sealEvents: Int = 50) -> StoreOptions {
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = sealEvents
        options.compactionFanIn = 1_000
        return options
    }

    func numbers(_ store: Store) throws -> [Int] {
        try store.allEvents().compactMap(eventNumber).sorted()
    }

    func waitUntil(seconds: Double = 15, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(), Date() < deadline { usleep(10_000) }
    }

    @Test func aSegmentThatFailsToOpenAfterPublishingIsRetriedAndNothingCountsTwice() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let notices = Notices()
        let store = try Store(directory: directory.path, options: options(), fileSystem: fs, report: notices.report)
        fs.fail(.openSegment, errno: EMFILE)
        _ = store.appendAndWait((0..<50).map { makeEvent($0) })
        waitUntil { store.snapshot()[0].segments.count == 1 }
        #expect(fs.failures == 1)
        #expect(notices.all.contains { $0.contains("does not read back") })
        _ = store.appendAndWait((50..<100).map { makeEvent($0) })
        waitUntil { store.snapshot()[0].segments.count == 2 }
        let snapshot = store.snapshot()[0]
        #expect(snapshot.segments.count == 2)
        #expect(snapshot.memtables.map(\.count) == [0], "no memtable left in the sealing list")
        #expect(try numbers(store) == Array(0..<100), "each event once")
        #expect(store.bufferedBytes == 0, "sealed memtables are released once")
        store.close()
        let reopened = try Store(directory: directory.path, options: options())
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<100))
    }

    @Test func aNewSegmentThatDoesNotVerifyIsRemovedAndItsInputsStay() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let notices = Notices()
        let damaged = Notices()
        // The first segment published is damaged on disk right after its rename (a bad block).
        fs.afterRename { path in
            guard path.hasSuffix(".cseg"), damaged.all.isEmpty else { return }
            damaged.report(path)
            let fd = Glibc.open(path, O_RDWR)
            var byte: UInt8 = 0
            _ = pread(fd, &byte, 1, 64)
            byte ^= 0xFF
            _ = pwrite(fd, &byte, 1, 64)
            Glibc.close(fd)
        }
        var options = options()
        options.compactionFanIn = 2
        let store = try Store(directory: directory.path, options: options, fileSystem: fs, report: notices.report)
        _ = store.appendAndWait((0..<50).map { makeEvent($0) })
        waitUntil { store.snapshot()[0].segments.count == 1 }
        #expect(notices.all.contains { $0.contains("does not read back") }, "\(notices.all)")
        #expect(store.snapshot()[0].segments.count == 1)
        #expect(try numbers(store) == Array(0..<50))
        store.halt()
        // What a crash now leaves recovers every event once, and every segment on disk verifies.
        let reopened = try Store(directory: directory.path, options: options)
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<50))
        #expect(StoreVerifier.verify(directory: directory.path).allSatisfy { !$0.isDamage })
    }

    @Test func aSealThatKeepsFailingBacksOffReportsAndNeverLosesEvents() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let notices = Notices()
        let store = try Store(directory: directory.path, options: options(), fileSystem: fs, report: notices.report)
        fs.fail(.rename, forever: true, errno: ENOSPC)
        _ = store.appendAndWait((0..<50).map { makeEvent($0) })
        usleep(1_600_000)
        // 100, 200, 400, 800 ms: about five attempts in 1.6 s, not a hot loop.
        let attempts = notices.all.filter { $0.contains("sealing") && $0.contains("failed") }.count
        #expect((2...7).contains(attempts), "\(attempts) attempts")
        let health = store.health()
        #expect(health.problems.contains { $0.contains("sealing") }, "\(health.problems)")
        #expect(!health.ingestBlocked)
        #expect(store.appendAndWait([makeEvent(50)])[0].accepted == 1, "ingest goes on")
        // A stop while the fault lasts returns, and leaves the events in the log.
        let started = Date()
        store.close()
        #expect(Date().timeIntervalSince(started) < 3)
        fs.heal()
        let reopened = try Store(directory: directory.path, options: options(), fileSystem: fs)
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(0..<51))
        #expect(reopened.health().problems.isEmpty)
    }

    @Test func aSealRecoversOnItsOwnOnceTheFaultIsGone() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try Store(directory: directory.path, options: options(), fileSystem: fs)
        defer { store.close() }
        fs.fail(.rename, forever: true, errno: EIO)
        _ = store.appendAndWait((0..<50).map { makeEvent($0) })
        waitUntil { !store.health().problems.isEmpty }
        fs.heal()
        waitUntil { store.snapshot()[0].segments.count == 1 }
        #expect(store.snapshot()[0].segments.count == 1)
        #expect(store.health().problems.isEmpty)
        let logs = try fs.list(directory.path + "/shard-000").filter { $0.hasPrefix("wal-") }
        #expect(logs.count == 1, "the covered log went once the segment was verified: \(logs)")
    }

    @Test func retentionDuringACompactionNeverRepublishesExpiredEvents() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = options(sealEvents: 10)
        do {
            let store = try Store(directory: directory.path, options: options)
            // makeEvent's timestamps are in November 2026; these are from 2020.
            var old = (0..<10).map { makeEvent($0) }
            for i in old.indices { old[i].timestamp = 1_577_836_800_000 + Int64(i) }
            _ = store.appendAndWait(old)
            _ = store.appendAndWait((10..<20).map { makeEvent($0) })
            _ = store.appendAndWait((20..<30).map { makeEvent($0) })
            store.close()
        }
        // 30 days past makeEvent's November 2026, whatever today's date: the 2020 events expire, the others stay.
        let daysSinceEvents = Int((Date().timeIntervalSince1970 * 1000 - Double(makeEvent(0).timestamp)) / 86_400_000)
        options.retentionDays = max(30, daysSinceEvents + 30)
        options.compactionFanIn = 3
        let fs = FaultInjectingFileSystem()
        // A slow compaction: a retention turn comes due (every second) while it publishes.
        fs.afterRename { path in
            if path.hasSuffix(".cseg") { usleep(1_500_000) }
        }
        let store = try Store(directory: directory.path, options: options, fileSystem: fs)
        _ = store.appendAndWait((30..<40).map { makeEvent($0) })
        waitUntil { store.snapshot()[0].segments.count == 1 && store.snapshot()[0].memtables.count == 1 }
        usleep(1_200_000)
        #expect(try numbers(store) == Array(10..<40))
        store.close()
        let reopened = try Store(directory: directory.path, options: options)
        defer { reopened.close() }
        #expect(try numbers(reopened) == Array(10..<40), "the 2020 events are gone for good")
    }
}

/// A seal publishes its ids file before its segment; when the segment never arrives, the ids must not hide the
/// events that are still only in the log from the next start.
@Suite struct UnpublishedSealTests {
    @Test(arguments: [false, true])
    func eventsOfASealWhoseSegmentNeverArrivedAreReplayed(cleanStop: Bool) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 5
        let store = try Store(directory: directory.path, options: options, fileSystem: fs)
        // The first rename publishes ids-N.dedup; the segment's rename, and every later one, fails.
        fs.fail(.rename, nth: 2, forever: true)
        for n in 0..<5 { #expect(store.appendAndWait([makeEvent(n)])[0].accepted == 1) }
        usleep(300_000)
        #expect(try fs.list(directory.path + "/shard-000").contains { $0.hasPrefix("ids-") }, "the ids file was published")
        if cleanStop { store.close() } else { store.halt() }
        fs.heal()
        let reopened = try Store(directory: directory.path, options: options, fileSystem: fs)
        defer { reopened.close() }
        #expect(try reopened.allEvents().compactMap(eventNumber).sorted() == Array(0..<5))
        // Retries of those events are still recognised as duplicates.
        #expect(reopened.appendAndWait([makeEvent(3)])[0].duplicates == 1)
    }
}
