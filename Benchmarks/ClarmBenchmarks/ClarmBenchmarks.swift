import Benchmark
import ClarmBots
import ClarmEvents
import ClarmHTTP
import ClarmQuery
import ClarmStorage
import Dispatch
import Glibc

// Benchmark names carry no spaces or punctuation: package-benchmark's threshold files are named after them.

/// Realistic traffic: a keep-alive POST of 20 page-view-like events, as the loader sends them.
let eventJSON = #"{"event":"page_view","visitor_id":"4f1c2a9e-7b3d-4e21-9c55-0d8e6f1a2b3c","session_id":"8d2f01c3a7e94b52","timestamp":"2026-11-05T08:19:19.685Z","url":"https://shop.example.com/products/blue-widget?utm_source=newsletter&utm_campaign=nov","referrer":"https://www.google.com/","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","event_id":"e-1a2b3c4d5e6f","properties":{"plan":"pro"}}"#
let batchBody = Array(("[" + Array(repeating: eventJSON, count: 20).joined(separator: ",") + "]").utf8)
let requestHead = Array("""
    POST /api/track HTTP/1.1\r
    Host: gateway.example.com\r
    User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r
    Accept: */*\r
    Accept-Language: en-US,en;q=0.9\r
    Content-Type: text/plain;charset=UTF-8\r
    Origin: https://shop.example.com\r
    Referer: https://shop.example.com/products/blue-widget\r
    Connection: keep-alive\r
    Content-Length: \(batchBody.count)\r
    \r

    """.utf8)

/// Events of many visitors over a month, encoded as records.
func records(_ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    let paths = ["/", "/pricing", "/blog/how-we-scaled-ingest", "/docs/getting-started", "/checkout", "/thank-you"]
    for n in 0..<count {
        let event = EventRecord(
            timestamp: 1_790_812_800_000 + Int64(n) * 2_600, receivedAt: 0, event: n % 9 == 0 ? "widget_open" : "page_view",
            visitorID: "visitor-\((n &* 7919) % (count / 8 + 1))", sessionID: "s-\(n / 5)", eventID: "",
            url: "https://shop.example.com\(paths[n % paths.count])\(n % 11 == 0 ? "?utm_source=newsletter" : "")",
            referrer: n % 4 == 0 ? "https://www.google.com/" : "", userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0",
            properties: n % 13 == 0 ? #"{"plan":"pro"}"# : "", site: "shop.example.com")
        event.append(to: &out)
    }
    return out
}

/// Tolerances for `benchmark thresholds check`: these machines are shared and noisy, so time may drift by half
/// before a check fails; allocation counts are exact and may not grow by more than a few.
nonisolated(unsafe) let tolerances: [BenchmarkMetric: BenchmarkThresholds] = [
    .wallClock: .init(relative: [.p90: 50], absolute: [.p90: Int.max / 2]),
    .throughput: .init(relative: [.p90: 50], absolute: [.p90: Int.max / 2]),
    .mallocCountTotal: .init(relative: [.p90: 5], absolute: [.p90: 10]),
]

let benchmarks: @Sendable () -> Void = {
    let throughput = Benchmark.Configuration(metrics: [.throughput, .wallClock, .mallocCountTotal], scalingFactor: .kilo, thresholds: tolerances)
    let heavy = Benchmark.Configuration(metrics: [.throughput, .wallClock, .mallocCountTotal], maxDuration: .seconds(5), thresholds: tolerances)

    Benchmark("HTTPRequestHeadParse", configuration: throughput) { benchmark in
        var parser = HTTPRequestParser()
        requestHead.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                parser.reset()
                blackHole(parser.parse(bytes))
            }
        }
    }

    Benchmark("EventJSONDecodeBatchOf20", configuration: throughput) { benchmark in
        var decoder = TrackDecoder()
        var batch = TrackBatch()
        let agent = Array("Mozilla/5.0".utf8)
        batchBody.withUnsafeBytes { body in
            agent.withUnsafeBytes { ua in
                for _ in benchmark.scaledIterations {
                    try? decoder.decode(body, context: TrackRequestContext(receivedAt: 1_793_866_800_000, userAgent: ua), into: &batch)
                    blackHole(batch.acceptedCount)
                }
            }
        }
    }

    Benchmark("WALAppend20EventRecordNoFsync", configuration: throughput) { benchmark in
        let record = records(20)
        let path = "/tmp/clarm-benchmark-\(getpid()).log"
        defer { unlink(path) }
        guard let file = try? PosixFileSystem().create(path) else { return }
        let writer = LogWriter(file: file)
        defer { writer.close() }
        benchmark.startMeasurement()
        record.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                writer.add(bytes)
                try? writer.write()
            }
        }
    }

    // The per-event cost of crawler detection on /api/track: one Aho–Corasick pass plus the programs of candidate
    // patterns. Browsers are the common case (no match); crawlers usually match on a literal; a hostile user agent
    // full of near misses runs at most `CrawlerMatcher.maxProgramRuns` programs.
    let crawlers = CrawlerMatcher.shared
    let agents: [[UInt8]] = [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ].map { Array($0.utf8) }
    Benchmark("CrawlerMatchBrowserUserAgent", configuration: throughput) { benchmark in
        agents[0].withUnsafeBytes { agent in
            for _ in benchmark.scaledIterations { blackHole(crawlers.match(agent)) }
        }
    }
    Benchmark("CrawlerMatchMixOf4UserAgents", configuration: throughput) { benchmark in
        for _ in benchmark.scaledIterations {
            for agent in agents { agent.withUnsafeBytes { blackHole(crawlers.match($0)) } }
        }
    }
    // The starts of the list's `[\s\S]*` patterns, never completed, and literals of patterns that then fail.
    let hostile = Array(String(repeating: "Spider Current ContextualBot outcomes.ne RSS Reade spider.co AdsBot-Google- ", count: 28).utf8.prefix(2048))
    Benchmark("CrawlerMatchHostile2KiBUserAgent", configuration: throughput) { benchmark in
        hostile.withUnsafeBytes { agent in
            for _ in benchmark.scaledIterations { blackHole(crawlers.match(agent)) }
        }
    }

    let segmentRows = 65_536
    let segmentRecords = records(segmentRows)
    Benchmark("SegmentEncode64kEvents", configuration: heavy) { benchmark in
        try segmentRecords.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                blackHole(try SegmentWriter.build(records: bytes, walCovered: 1).summary)
            }
        }
    }

    Benchmark("SegmentDecode4Columns64kEvents", configuration: heavy) { benchmark in
        let path = "/tmp/clarm-benchmark-\(getpid()).cseg"
        defer { unlink(path) }
        let image = try segmentRecords.withUnsafeBytes { try SegmentWriter.build(records: $0, walCovered: 1).image }
        guard let file = try? PosixFileSystem().create(path) else { return }
        image.withUnsafeBytes { _ = try? file.append($0) }
        file.close()
        guard let segment = try? Segment(path: path) else { return }
        var timestamps: [Int64] = []
        var ids: [UInt32] = []
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for block in 0..<segment.blockCount {
                try? segment.timestamps(block: block, into: &timestamps)
                for column in [SegmentFormat.Column.visitor_id, .event, .path] { try? segment.ids(column, block: block, into: &ids) }
            }
            blackHole(ids.count)
        }
    }

    Benchmark("QueryAllMetricsByDay200kEvents", configuration: heavy) { benchmark in
        let directory = "/tmp/clarm-benchmark-store-\(getpid())"
        defer { _ = system("rm -rf \(directory)") }
        var options = StoreOptions()
        options.shards = 2
        options.durability = .os
        guard let store = try? Store(directory: directory, options: options) else { return }
        let all = records(200_000)
        var perShard: [[UInt8]] = [[], []]
        var counts = [0, 0]
        _ = all.withUnsafeBytes { raw in
            EventRecordView.forEach(in: raw) { view in
                let shard = store.shard(forVisitor: view.visitorID)
                perShard[shard].append(contentsOf: view.bytes)
                counts[shard] += 1
            }
        }
        let group = DispatchGroup()
        for shard in 0..<2 {
            group.enter()
            store.append(shard: shard, records: perShard[shard], count: counts[shard]) { _ in group.leave() }
        }
        group.wait()
        store.close()
        guard let reopened = try? Store(directory: directory, options: options) else { return }
        defer { reopened.close() }
        let engine = QueryEngine(store: reopened)
        let text = Array(#"{"site":"shop.example.com","date_range":"all","metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration"],"dimensions":["time:day"]}"#.utf8)
        guard let query = text.withUnsafeBytes({ try? Query.parse($0, now: 0) }) else { return }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? engine.run(query).totalRows)
        }
    }
}
