import Foundation
import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// Buffered events are bounded: seals by bytes, and a store-wide limit past which appends fail fast.
@Suite struct MemoryLimitTests {
    /// An event of about `size` bytes of properties.
    func bigEvent(_ n: Int, size: Int) -> EventRecord {
        var event = makeEvent(n)
        event.properties = #"{"blob":""# + String(repeating: "x", count: size) + #""}"#
        return event
    }

    @Test func aShardSealsByBytes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.sealBytes = 64 << 10
        options.compactionFanIn = 1_000
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        for n in 0..<40 { _ = store.appendAndWait([bigEvent(n, size: 8 << 10)]) }
        for _ in 0..<1000 where store.snapshot()[0].segments.count < 4 { usleep(10_000) }
        #expect(store.snapshot()[0].segments.count >= 4, "320 KiB in seals of 64 KiB")
        #expect(store.snapshot()[0].segments.allSatisfy { $0.rowCount <= 9 }, "about 64 KiB of 8 KiB events each")
    }

    @Test func appendsPastTheLimitFailWhileSealsCannotKeepUp() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fs = FaultInjectingFileSystem()
        var options = StoreOptions()
        options.shards = 1
        options.memoryLimit = 256 << 10
        let store = try Store(directory: directory.path, options: options, fileSystem: fs)
        defer { store.close() }
        // A full disk: no seal succeeds, so nothing buffered is released.
        fs.fail(.rename, forever: true, errno: ENOSPC)
        var stored = 0
        var firstFailure: StoreError?
        for n in 0..<100 {
            let outcome = store.appendAndWait([bigEvent(n, size: 8 << 10)])[0]
            if outcome.accepted == 1 { stored += 1 } else if case .failed(let error) = outcome, firstFailure == nil { firstFailure = error }
        }
        #expect(stored > 10 && stored <= 32, "\(stored) stored before the limit")
        // Events stay under the limit; a seal being tried takes its working memory (twice what it seals) on top.
        #expect(store.bufferedBytes <= 3 * (256 << 10), "\(store.bufferedBytes)")
        #expect(firstFailure?.description.contains("memory limit") == true, "\(String(describing: firstFailure))")
        #expect(firstFailure?.retryAfter == 5)
        // A failed attempt gave its working memory back, so an append may fit again; the limit is soon reached.
        var refused = false
        for n in 100..<140 where !refused { refused = store.appendAndWait([bigEvent(n, size: 8 << 10)])[0].failed }
        #expect(refused && store.health().ingestBlocked)
        // Once seals succeed again, memory is released and appends go through.
        fs.heal()
        var accepted = false
        for n in 140..<440 where !accepted {
            accepted = store.appendAndWait([bigEvent(n, size: 8 << 10)])[0].accepted == 1
            if !accepted { usleep(50_000) }
        }
        #expect(accepted)
        #expect(!store.health().ingestBlocked)
    }
}
