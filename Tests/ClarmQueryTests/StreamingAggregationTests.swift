import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// The engine aggregates visitors found in one segment as it reads that segment, and gathers only the rows of
/// visitors met in several places: these tests hold its answers to the independent reference and to the
/// engine gathering every row, on stores where visitors lie in one segment, across many segments, and
/// between segments and the memtables.
@Suite struct StreamingAggregationTests {
    /// Events shuffled so that most visitors' events fall into several small segments, appended in chunks
    /// (half before a restart, which seals them, half after, partly left in the memtables).
    static func scatteredStore(_ events: [EventRecord], directory: TemporaryDirectory, seed: UInt64) throws -> Store {
        var random = SplitMix64(seed: seed)
        // Keep a third of the visitors' events together (those visitors live in one segment); scatter the rest.
        let together = events.filter { Int($0.visitorID.dropFirst("visitor-".count))! % 3 == 0 }
        var scattered = events.filter { Int($0.visitorID.dropFirst("visitor-".count))! % 3 != 0 }
        scattered.shuffle(using: &random)
        let ordered = together + scattered
        var options = StoreOptions()
        options.shards = 2
        options.durability = .os
        options.sealEvents = 97
        options.compactionFanIn = 1_000
        let half = ordered.count / 2
        let first = try Store(directory: directory.path, options: options)
        for chunk in stride(from: 0, to: half, by: 120) { append(first, Array(ordered[chunk..<min(half, chunk + 120)])) }
        first.close()
        let store = try Store(directory: directory.path, options: options)
        for chunk in stride(from: half, to: ordered.count, by: 120) { append(store, Array(ordered[chunk..<min(ordered.count, chunk + 120)])) }
        return store
    }

    static let zoned: [String] = [
        #"{"site":"shop.example.com","date_range":"all",\#(QueryEngineTests.allMetrics),"dimensions":["time:hour"],"timezone":"America/Los_Angeles"}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(QueryEngineTests.allMetrics),"dimensions":["time:day"],"timezone":"America/Los_Angeles"}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-01","2026-11-03"],\#(QueryEngineTests.allMetrics),"dimensions":["time:day","event:page"],"timezone":"America/Los_Angeles"}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(QueryEngineTests.allMetrics),"dimensions":["time:hour"],"timezone":"Asia/Kolkata","filters":[["is","event:name",["page_view"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(QueryEngineTests.allMetrics),"dimensions":["time:week","visit:source"],"timezone":"Australia/Sydney"}"#,
    ]

    @Test(arguments: [UInt64(3), 29])
    func matchesTheReferenceAndTheGatheringEngine(seed: UInt64) throws {
        let events = generateEvents(seed: seed, visitors: 160)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.scatteredStore(events, directory: directory, seed: seed)
        defer { store.close() }
        // Seals run in the background: wait for them to publish.
        #expect(waitFor(seconds: 30) { store.snapshot().contains { $0.segments.count > 3 } })
        // Both ways of storing a visitor are there: in one segment only, and over several places.
        var local = 0, shared = 0
        for shard in store.snapshot() {
            let segments = shard.segments
            let places = try VisitorPlaces(shard, segments: segments, site: Array("shop.example.com".utf8))
            for flags in places.local { local += flags.count { $0 }; shared += flags.count { !$0 } }
        }
        #expect(local > 20 && shared > 20, "\(local) local, \(shared) shared visitor entries")
        #expect(store.snapshot().contains { $0.memtables.contains { $0.count > 0 } })
        let streaming = QueryEngine(store: store)
        var gathering = QueryEngine(store: store)
        gathering.streamsVisitors = false
        for text in QueryEngineTests.queries + Self.zoned {
            let query = try parse(text)
            let answer = try streaming.run(query)
            let reference = try gathering.run(query)
            #expect(answer.totalRows == reference.totalRows, "\(text)")
            for (got, expected) in zip(answer.rows, reference.rows) {
                #expect(got.dimensions == expected.dimensions && got.metrics == expected.metrics, "\(text): \(got) vs \(expected)")
            }
            let expected = QueryReference.run(events, query)
            #expect(answer.totalRows == expected.count, "\(text)")
            for row in answer.rows {
                guard let metrics = expected[row.dimensions] else {
                    Issue.record("unexpected group \(row.dimensions) for \(text)")
                    continue
                }
                for (i, metric) in query.metrics.enumerated() where metric != .total_revenue {
                    #expect(row.metrics[i] == metrics[i], "\(metric) of \(row.dimensions) for \(text): \(row.metrics[i]) vs \(metrics[i])")
                }
            }
        }
    }

    /// Rows of visitors that live in one segment are let go with it: they do not count against the row cap
    /// (`--query-max-rows`), which gathering every row would pass.
    @Test func visitorsOfOneSegmentDoNotCountAgainstTheRowCap() throws {
        let events = generateEvents(seed: 5, visitors: 300)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 2
        let first = try Store(directory: directory.path, options: options)
        append(first, events)
        first.close()  // seals each shard's events, grouped by visitor, into one segment
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let query = try parse(#"{"site":"shop.example.com","date_range":"all",\#(QueryEngineTests.allMetrics),"dimensions":["time:day"]}"#)
        let cap = events.count / 4
        let answer = try QueryEngine(store: store, control: QueryControl(timeoutMilliseconds: 60_000, maxRows: cap)).run(query)
        #expect(answer.totalRows == QueryReference.run(events, query).count)
        var gathering = QueryEngine(store: store, control: QueryControl(timeoutMilliseconds: 60_000, maxRows: cap))
        gathering.streamsVisitors = false
        #expect(throws: QueryError.self) { try gathering.run(query) }
    }
}
