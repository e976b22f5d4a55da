import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// What got 503 is never replayed, and replay stores an event once however many logs hold it.
@Suite struct FailurePathTests {
    enum Crash: CaseIterable { case process, power }

    func open(_ directory: TemporaryDirectory, _ fs: FileSystem, notices: Notices = Notices()) throws -> Store {
        var options = StoreOptions()
        options.shards = 1
        return try Store(directory: directory.path, options: options, fileSystem: fs, report: notices.report)
    }

    func numbers(_ store: Store) throws -> [Int] {
        try store.allEvents().compactMap(eventNumber).sorted()
    }

    func crash(_ store: Store, _ fs: FaultInjectingFileSystem, _ crash: Crash) {
        store.halt()
        if crash == .power { fs.powerCut() }
    }

    @Test(arguments: [FaultInjectingFileSystem.Operation.write, .sync], Crash.allCases)
    func aRejectedGroupNeverComesBack(_ operation: FaultInjectingFileSystem.Operation, _ mode: Crash) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try open(directory, fs)
        for n in 0..<5 { #expect(store.appendAndWait([makeEvent(n)])[0].accepted == 1) }
        fs.fail(operation)
        #expect(store.appendAndWait([makeEvent(5), makeEvent(6)])[0].failed)
        fs.heal()
        #expect(store.appendAndWait([makeEvent(7)])[0].accepted == 1)
        crash(store, fs, mode)

        let reopened = try open(directory, fs)
        defer { reopened.close() }
        #expect(try numbers(reopened) == [0, 1, 2, 3, 4, 7], "the 503'd events 5 and 6 stay out")
    }

    @Test(arguments: Crash.allCases)
    func aRetryAfter503IsStoredOnceAfterACrash(_ mode: Crash) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let store = try open(directory, fs)
        #expect(store.appendAndWait([makeEvent(0)])[0].accepted == 1)
        fs.fail(.sync)
        #expect(store.appendAndWait([makeEvent(1), makeEvent(2)])[0].failed)
        fs.heal()
        // The client retries the same event ids, into the next log.
        #expect(store.appendAndWait([makeEvent(1), makeEvent(2)])[0].accepted == 2)
        crash(store, fs, mode)

        let reopened = try open(directory, fs)
        defer { reopened.close() }
        #expect(try numbers(reopened) == [0, 1, 2])
        #expect(reopened.appendAndWait([makeEvent(1)])[0].duplicates == 1)
    }

    @Test func whenTheLogCannotBeCutBackItsCommitPointIsRecorded() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        let notices = Notices()
        let store = try open(directory, fs, notices: notices)
        for n in 0..<3 { #expect(store.appendAndWait([makeEvent(n)])[0].accepted == 1) }
        fs.fail(.sync)
        fs.fail(.truncate)
        #expect(store.appendAndWait([makeEvent(3), makeEvent(4)])[0].failed)
        fs.heal()
        #expect(notices.all.contains { $0.contains("recording its commit point") })
        let markers = try fs.list(directory.path + "/shard-000").filter { $0.hasSuffix(".valid") }
        #expect(markers.count == 1)
        store.halt()
        #expect(StoreVerifier.verify(directory: directory.path).allSatisfy { !$0.isDamage })

        let later = Notices()
        let reopened = try open(directory, fs, notices: later)
        #expect(try numbers(reopened) == [0, 1, 2])
        #expect(later.all.contains { $0.contains("past its commit point were never acknowledged") })
        reopened.close()
        let files = try fs.list(directory.path + "/shard-000")
        #expect(!files.contains { $0.hasSuffix(".valid") || $0.hasSuffix(".log") }, "sealed: logs and commit points go: \(files)")
    }

    @Test func replayStoresAnEventOnceWhateverLogsHoldIt() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = PosixFileSystem()
        try open(directory, fs).close()
        // Two logs holding the same events, as a 503'd group and its retry would without the cut-back.
        for number in [5, 6] {
            let writer = LogWriter(file: try fs.create(directory.path + "/shard-000/" + Shard.logName(UInt64(number))))
            var record: [UInt8] = [1]
            withUnsafeBytes(of: UInt32(3).littleEndian) { record.append(contentsOf: $0) }
            record += encode((0..<3).map { makeEvent($0) })
            record.withUnsafeBytes { writer.add($0) }
            try writer.write()
            writer.close()
        }
        let notices = Notices()
        let store = try open(directory, fs, notices: notices)
        defer { store.close() }
        #expect(try numbers(store) == [0, 1, 2])
        #expect(notices.all.contains { $0.contains("3 events already stored were not replayed again") })
    }
}
