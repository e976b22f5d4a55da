import Dispatch
import Synchronization
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// Appends that queue up while the writer is busy (an fsync that stalls) are committed in bounded groups without
/// being moved: taking them costs the appenders' lock nothing however long the queue grew.
@Suite struct ShardBacklogTests {
    @Test func aBacklogIsCommittedInGroupsStraightFromTheBufferItWasQueuedIn() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.durability = .os
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let shard = store.shards[0]

        // Hold the writer while 5 groups' worth of appends (40 MiB, 128 KiB each) queue up.
        let stall = DispatchSemaphore(value: 0)
        shard.writer.async { stall.wait() }
        let appends = 320, perAppend = 8
        struct Done { var order: [Int] = []; var accepted = 0; var buffers = Set<UInt>() }
        let done = Mutex(Done())
        let finished = DispatchGroup()
        for a in 0..<appends {
            var events: [EventRecord] = []
            for n in (a * perAppend)..<((a + 1) * perAppend) {
                var event = makeEvent(n)
                event.properties = #"{"blob":""# + String(repeating: "x", count: 16 << 10) + #""}"#
                events.append(event)
            }
            finished.enter()
            store.append(shard: 0, records: encode(events), count: perAppend) { outcome in
                // Completions run on the writer, inside the commit: the buffer it reads the group from is `groupRecords`.
                let buffer = shard.groupRecords.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
                done.withLock { done in
                    done.order.append(a)
                    if case .stored(let accepted, _) = outcome { done.accepted += accepted }
                    done.buffers.insert(buffer)
                }
                finished.leave()
            }
        }
        let queued = shard.incoming.withLock { incoming in
            (bytes: incoming.records.count, buffer: incoming.records.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) })
        }
        #expect(queued.bytes > 4 * Shard.groupBytes)
        let groupsBefore = store.metrics.groupSize.count
        stall.signal()
        finished.wait()

        let result = done.withLock { $0 }
        #expect(result.order == Array(0..<appends), "completed in the order appended")
        #expect(result.accepted == appends * perAppend)
        #expect(result.buffers == [queued.buffer], "every group was read where the appends put it, none moved")
        let groups = store.metrics.groupSize.count - groupsBefore
        #expect(groups >= 5 && groups <= 6, "\(groups) groups of at most \(Shard.groupBytes) bytes")
        // The buffers that grew with the backlog are not kept at their peak.
        let kept = shard.writer.sync { shard.groupRecords.capacity } + shard.incoming.withLock { $0.records.capacity }
        #expect(kept <= 4 * Shard.groupBytes, "\(kept) bytes of buffers kept")
    }
}
