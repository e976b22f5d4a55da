import Dispatch
import Glibc
import Testing
import ClarmEvents
import ClarmJSON
@testable import ClarmIntegrations
import ClarmStorage
import ClarmSystem
import ClarmTestSupport

/// A replay reads the store's segments and memtables: the events of the range, and their `webhook-id` keys the
/// same as when the feed delivered them (segments keep no `event_id` or `received_at`).
@Suite struct ReplayRangeTests {
    func append(_ store: Store, _ events: [EventRecord]) {
        var byShard: [Int: (records: [UInt8], count: Int)] = [:]
        for event in events {
            let shard = Array(event.visitorID.utf8).withUnsafeBytes { store.shard(forVisitor: $0) }
            event.append(to: &byShard[shard, default: ([], 0)].records)
            byShard[shard]!.count += 1
        }
        let group = DispatchGroup()
        for (shard, batch) in byShard {
            group.enter()
            store.append(shard: shard, records: batch.records, count: batch.count) { _ in group.leave() }
        }
        group.wait()
    }

    func range(_ from: String, _ to: String) throws -> ReplayRange {
        try Array(#"{"from":"\#(from)","to":"\#(to)"}"#.utf8).withUnsafeBytes { try ReplayRange(JSONValue.parse($0)) }
    }

    @Test func theRangeIsReadFromSegmentsAndMemtablesWithTheFeedsKeys() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // With event ids and reception times, which the feed (and memtables) carry and segments do not.
        let events = generateEvents(seed: 7, visitors: 300).enumerated().map { n, event in
            var event = event
            event.eventID = "e-\(n)"
            event.receivedAt = event.timestamp + 1_000 + Int64(n)
            return event
        }
        var options = StoreOptions()
        options.shards = 2
        options.durability = .os
        options.sealEvents = 97
        options.compactionFanIn = 1_000
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        for chunk in stride(from: 0, to: events.count, by: 150) { append(store, Array(events[chunk..<min(events.count, chunk + 150)])) }
        #expect(waitFor { store.snapshot().contains { !$0.segments.isEmpty } })

        let replay = try range("2026-11-01T12:00:00Z", "2026-11-02T12:00:00Z")
        let matches: (EventRecord) -> Bool = { $0.site == "shop.example.com" && $0.event != "page_view" }
        let read = try replay.events(in: store, matching: matches)
        let expected = events.filter { $0.timestamp >= replay.from && $0.timestamp < replay.to && matches($0) }
        #expect(read.count == expected.count && !read.isEmpty)
        #expect(read.map(\.event.timestamp) == read.map(\.event.timestamp).sorted())
        #expect(Set(read.map(\.hash)) == Set(expected.map(WebhookSignature.eventKey)))
        #expect(store.snapshot().contains { $0.segments.contains { $0.minTimestamp < replay.to && $0.maxTimestamp >= replay.from } })

        // Resuming after the 40th event sent gives exactly the rest, in the same order (compared by key: a seal
        // meanwhile drops event ids).
        var progress = ReplayProgress(from: replay.from, to: replay.to)
        progress.move(past: read[39])
        let rest = try replay.events(in: store, after: progress, matching: matches)
        #expect(rest.map(\.key) == read[40...].map(\.key))
    }

    /// A `/api/track` batch without timestamps or ids gives identical events one reception time: each still gets
    /// its own key, the same in the feed (even split across two reads) and in a replay, and a replay resumed after
    /// the first sends the second.
    @Test func identicalEventsGetTheirOwnKeysInTheFeedAndInAReplay() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.durability = .os
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let twin = EventRecord(timestamp: 1_793_491_200_000, receivedAt: 1_793_491_200_000, event: "purchase", visitorID: "v",
                               url: "https://shop.example.com/checkout", site: "shop.example.com")
        let other = EventRecord(timestamp: 1_793_491_200_000, receivedAt: 1_793_491_200_000, event: "signup", visitorID: "v",
                                site: "shop.example.com")
        append(store, [twin, other, twin, twin])

        var seen: [String: Int] = [:]
        let whole = WebhookSignature.eventKeys([twin, other, twin, twin], seen: &seen)
        #expect(Set(whole).count == 4)
        seen = [:]
        let split = WebhookSignature.eventKeys([twin, other], seen: &seen) + WebhookSignature.eventKeys([twin, twin], seen: &seen)
        #expect(split == whole)

        let all = try range("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
        let read = try all.events(in: store) { _ in true }
        #expect(Set(read.map(\.key)) == Set(whole))
        #expect(read.map(\.hash).filter { $0 == WebhookSignature.eventKey(twin) }.count == 3)
        let twins = read.filter { $0.hash == WebhookSignature.eventKey(twin) }
        var progress = ReplayProgress(from: all.from, to: all.to)
        progress.move(past: twins[0])
        let rest = try all.events(in: store, after: progress) { $0.event == "purchase" }
        #expect(rest.map(\.key) == twins.dropFirst().map(\.key))
        // The rank is saved with the progress.
        try ReplayFile.save(progress, directory: directory.path, destination: "d1")
        #expect(try ReplayFile.load(directory: directory.path, destination: "d1") == progress)
    }

    @Test func progressIsSavedAndADamagedFileRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        #expect(try ReplayFile.load(directory: directory.path, destination: "d1") == nil)
        let progress = ReplayProgress(from: 1, to: 2_000, afterMilliseconds: 1_500, afterKey: "0a1b2c", afterOccurrence: 3)
        try ReplayFile.save(progress, directory: directory.path, destination: "d1")
        #expect(try ReplayFile.load(directory: directory.path, destination: "d1") == progress)
        let path = ReplayFile.path(directory: directory.path, destination: "d1")
        #expect(truncate(path, 20) == 0)
        #expect(throws: IntegrationError.self) { try ReplayFile.load(directory: directory.path, destination: "d1") }
        try ReplayFile.delete(directory: directory.path, destination: "d1")
        #expect(try ReplayFile.load(directory: directory.path, destination: "d1") == nil)
    }

    @Test func rangesAndTheirWorkAreBounded() throws {
        #expect(throws: IntegrationError.self) { try range("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z") }
        #expect(throws: IntegrationError.self) { try range("2026-10-01T00:00:00Z", "2026-11-02T00:00:01Z") }
        #expect(throws: IntegrationError.self) { try range("yesterday", "2026-11-01T00:00:00Z") }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.durability = .os
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let many = (0...ReplayRange.maxEvents).map { n in
            EventRecord(timestamp: 1_793_491_200_000 + Int64(n), receivedAt: 0, event: "purchase", visitorID: "v", site: "shop.example.com")
        }
        append(store, many)
        let all = try range("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
        #expect { _ = try all.events(in: store) { _ in true } } throws: { "\($0)".contains("more than \(ReplayRange.maxEvents)") }
        #expect(try range("2026-11-01T00:00:00Z", "2026-11-01T00:00:01Z").events(in: store) { _ in true }.count == 1_000)
        // A scan past its deadline stops.
        let second = try range("2026-11-01T00:00:00Z", "2026-11-01T00:00:01Z")
        #expect { _ = try second.events(in: store, deadline: monotonicMilliseconds() - 1) { _ in true } } throws: {
            "\($0)".contains("query timeout")
        }
    }

    /// Few events, but more bytes of them than a replay holds in memory.
    @Test func aRangeOfLargeEventsIsBoundedInBytes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.durability = .os
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let properties = #"{"blob":""# + String(repeating: "x", count: 30_000) + #""}"#
        let count = ReplayRange.maxBytes / 30_000 + 1
        for chunk in stride(from: 0, to: count, by: 100) {
            append(store, (chunk..<min(count, chunk + 100)).map { n in
                EventRecord(timestamp: 1_793_491_200_000 + Int64(n), receivedAt: 0, event: "purchase", visitorID: "v",
                            properties: properties, site: "shop.example.com")
            })
        }
        #expect(count < ReplayRange.maxEvents)
        let all = try range("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
        #expect { _ = try all.events(in: store) { _ in true } } throws: { "\($0)".contains("MiB") }
        #expect(try range("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.100Z").events(in: store) { _ in true }.count == 100)
    }
}
