import Glibc
import Testing
@testable import ClarmStorage
import ClarmSystem
import ClarmTestSupport

/// A new log starts as the zero-filled spare the sealer made: commits overwrite it from byte 0, and a crash
/// leaves its zero tail, which recovery reads as the end of the log.
@Suite struct SpareLogTests {
    func open(_ directory: TemporaryDirectory, _ fs: FileSystem, notices: Notices = Notices()) throws -> Store {
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 4
        return try Store(directory: directory.path, options: options, fileSystem: fs, report: notices.report)
    }

    /// Waits (at most 10 s) for the sealer to have the spare ready; false if it never is.
    func waitForSpare(_ shard: Shard) -> Bool {
        let deadline = monotonicMilliseconds() + 10_000
        while true {
            if case .ready = shard.spareLog.withLock({ $0 }) { return true }
            guard monotonicMilliseconds() < deadline else { return false }
            usleep(2_000)
        }
    }

    @Test(arguments: FailurePathTests.Crash.allCases)
    func aLogStartedFromASpareKeepsEveryAcknowledgedEventThroughACrash(_ mode: FailurePathTests.Crash) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try open(directory, fs)
        try #require(waitForSpare(store.shards[0]))
        // The fourth event fills the memtable: it is sealed, and the next log is the spare.
        for n in 0..<7 { #expect(store.appendAndWait([makeEvent(n)])[0].accepted == 1) }
        let shardPath = directory.path + "/shard-000/"
        let current = try #require(try fs.list(shardPath).filter { $0.hasPrefix("wal-") && $0.hasSuffix(".log") }.last)
        #expect(try fs.readAll(shardPath + current).count >= Shard.minimumSpareLog,
                "\(current) holds three small records in a zero-filled file of the spare's size")
        store.halt()
        if mode == .power { fs.powerCut() }

        let notices = Notices()
        let reopened = try open(directory, fs, notices: notices)
        defer { reopened.close() }
        #expect(try reopened.allEvents().compactMap(eventNumber).sorted() == Array(0..<7))
        #expect(!notices.all.contains { $0.contains("corruption") || $0.contains("torn") }, "\(notices.all)")
        #expect(StoreVerifier.verify(directory: directory.path).allSatisfy { !$0.isDamage })
    }

    /// A log that fills its zero-filled start moves on to the next spare; every event reads back, in order.
    @Test func aFullLogMovesOnToTheNextSpare() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = PosixFileSystem()
        var options = StoreOptions()
        options.shards = 1
        let store = try Store(directory: directory.path, options: options, fileSystem: fs)
        for n in 0..<300 {
            try #require(waitForSpare(store.shards[0]))
            var event = makeEvent(n)
            event.properties = #"{"blob":""# + String(repeating: "x", count: 8 << 10) + #""}"#
            #expect(store.appendAndWait([event])[0].accepted == 1)
        }
        let logs = try fs.list(directory.path + "/shard-000/").filter { $0.hasPrefix("wal-") && $0.hasSuffix(".log") }
        #expect(logs.count >= 3, "2.4 MiB of events: 1 MiB in the first log, a spare of 1 MiB, then one of 2 MiB: \(logs)")
        store.halt()
        let reopened = try Store(directory: directory.path, options: options, fileSystem: fs)
        defer { reopened.close() }
        #expect(try reopened.allEvents().compactMap(eventNumber).sorted() == Array(0..<300))
    }

    /// Closing removes the spare; a spare left by a crash is removed on start.
    @Test func noSpareOutlivesTheStore() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = PosixFileSystem()
        let shardPath = directory.path + "/shard-000/"
        let crashed = try open(directory, fs)
        try #require(waitForSpare(crashed.shards[0]))
        crashed.halt()
        #expect(fs.exists(shardPath + Shard.spareLogName))
        let store = try open(directory, fs)
        #expect(!fs.exists(shardPath + Shard.spareLogName) || store.shards[0].spareLog.withLock({ $0 }) != .none)
        #expect(store.appendAndWait([makeEvent(0)])[0].accepted == 1)
        store.close()
        #expect(!fs.exists(shardPath + Shard.spareLogName))
    }
}
