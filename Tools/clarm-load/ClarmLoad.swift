import ArgumentParser
import ClarmSystem
import Foundation
import Glibc
import Histogram

@main
struct ClarmLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clarm-load",
        abstract: "Realistic tracking traffic against a Clarm gateway, closed or open loop, with latency percentiles.",
        discussion: """
        Closed loop (default): every connection keeps --depth requests in flight, as fast as the server answers.
        Open loop (--rate R): R requests per second in all, each timed from when it was due, so a stalled server
        shows its stall in the percentiles instead of slowing the load down (coordinated omission).
        """
    )

    @Option(help: "Gateway URL (http only).")
    var url = "http://127.0.0.1:8080"

    @Option(help: "Keep-alive connections in all.")
    var connections = 64

    @Option(help: "Requests in flight per connection (pipelining depth).")
    var depth = 1

    @Option(help: "Events per request (1 sends an object, more an array).")
    var batch = 1

    @Option(help: "Requests per second in all: open loop. Without it, closed loop.")
    var rate: Double?

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(help: "Stop after this many events (instead of, or before, the duration).")
    var events: Int?

    @Option(help: "Threads (each its own epoll loop); default: cores.")
    var threads: Int?

    @Option(help: "Seed of the traffic: the same seed gives the same events.")
    var seed: UInt64 = 1

    @Option(help: "The site the events belong to; default load-SEED.example.com.")
    var site: String?

    @Option(help: "Distinct visitors.")
    var visitors = 100_000

    @Option(help: "Days the event timestamps spread over, ending now (start the gateway with a --max-event-age of at least this plus one).")
    var days = 30

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Flag(help: "After the run, ask the query API how many events the site holds and compare with the accepted count.")
    var verify = false

    @Option(help: "Write the events as NDJSON to this file instead of sending them (needs --events).")
    var emit: String?

    func validate() throws {
        guard connections >= 1, depth >= 1, (1...1000).contains(batch) else {
            throw ValidationError("--connections and --depth must be at least 1, --batch 1...1000")
        }
        if emit != nil && events == nil { throw ValidationError("--emit needs --events") }
    }

    func run() throws {
        let siteName = site ?? "load-\(seed).example.com"
        let end = Int64(Date().timeIntervalSince1970 * 1000)
        if let emit {
            try emitEvents(to: emit, site: siteName, end: end)
            return
        }
        guard let target = URL(string: url), target.scheme == "http", let host = target.host else {
            throw ValidationError("--url must be http://HOST:PORT")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(target.port ?? 80).bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw ValidationError("--url needs a numeric IPv4 host")
        }
        let threadCount = max(1, min(threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), connections))
        let requestLimit = events.map { ($0 + batch - 1) / batch } ?? Int.max
        let deadline = monotonicMicroseconds() + Int64(duration * 1_000_000)
        let results = ResultBox(count: threadCount)
        let started = monotonicMicroseconds()
        var workers: [Thread] = []
        for index in 0..<threadCount {
            let share = connections / threadCount + (index < connections % threadCount ? 1 : 0)
            let limit = requestLimit == Int.max ? Int.max : requestLimit / threadCount + (index < requestLimit % threadCount ? 1 : 0)
            let plan = LoadPlan(address: address, host: Array("\(host):\(target.port ?? 80)".utf8), connections: share,
                                depth: depth, eventsPerRequest: batch, rate: rate.map { $0 / Double(threadCount) },
                                deadline: deadline, requestLimit: limit)
            let traffic = Traffic(seed: seed, stream: UInt64(index), site: siteName, visitors: visitors, days: days, end: end)
            let worker = Thread {
                var loop = LoadLoop(plan: plan, traffic: traffic)
                results.set(index, loop.run())
            }
            worker.start()
            workers.append(worker)
        }
        results.wait()
        let elapsed = Double(monotonicMicroseconds() - started) / 1_000_000
        var total = LoadResult()
        for result in results.all { total.add(result) }
        var stored: Int? = nil
        if verify { stored = try queryEventCount(address: address, host: host, site: siteName) }
        report(total, seconds: elapsed, site: siteName, stored: stored)
        if verify, stored != total.accepted { throw ExitCode(1) }
    }

    private func emitEvents(to path: String, site: String, end: Int64) throws {
        guard let file = fopen(path, "w") else { throw ValidationError("cannot write \(path)") }
        defer { fclose(file) }
        var traffic = Traffic(seed: seed, stream: 0, site: site, visitors: visitors, days: days, end: end)
        var line = ByteWriter()
        for _ in 0..<(events ?? 0) {
            line.bytes.removeAll(keepingCapacity: true)
            traffic.event(into: &line)
            line.put("\n")
            _ = line.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        }
    }

    /// Asks `POST /api/query` for the number of events the site holds, over one plain connection.
    private func queryEventCount(address: sockaddr_in, host: String, site: String) throws -> Int {
        let body = #"{"site":"\#(site)","date_range":"all","metrics":["events"]}"#
        let request = "POST /api/query HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = address
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ValidationError("cannot connect for --verify") }
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n"),
              let answer = try? JSONSerialization.jsonObject(with: Data(text[split.upperBound...].utf8)) as? [String: Any],
              let results = answer["results"] as? [[String: Any]], let metrics = results.first?["metrics"] as? [Int],
              let count = metrics.first
        else { throw ValidationError("the query API gave no count: \(text)") }
        return count
    }

    private func report(_ total: LoadResult, seconds: Double, site: String, stored: Int?) {
        let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]
        let latency = percentiles.map { ($0.0, Double(total.latency.valueAtPercentile($0.1)) / 1000) } + [("max", Double(total.latency.max) / 1000)]
        let statuses = total.statuses.keys.sorted().map { "\"\($0)\":\(total.statuses[$0]!)" }.joined(separator: ",")
        if json {
            var text = #"{"mode":"\#(rate == nil ? "closed" : "open")","seconds":\#(round3(seconds)),"requests":\#(total.requests),"#
            text += #""events":\#(total.events),"accepted":\#(total.accepted),"errors":\#(total.errors),"#
            text += #""requests_per_second":\#(round3(Double(total.requests) / seconds)),"events_per_second":\#(round3(Double(total.events) / seconds)),"#
            text += #""bytes_per_second":\#(round3(Double(total.bytesSent) / seconds)),"latency_ms":{"#
            text += latency.map { #""\#($0.0)":\#(round3($0.1))"# }.joined(separator: ",") + #"},"statuses":{\#(statuses)}"#
            text += #","site":"\#(site)""# + (stored.map { #","stored":\#($0),"verified":\#($0 == total.accepted)"# } ?? "") + "}"
            print(text)
        } else {
            print("\(rate == nil ? "closed loop" : "open loop at \(rate!) req/s"), \(connections) connections, depth \(depth), batch \(batch), \(round3(seconds)) s, site \(site)")
            print("requests: \(total.requests) (\(round3(Double(total.requests) / seconds))/s)  events: \(total.events) (\(round3(Double(total.events) / seconds))/s)  sent: \(round3(Double(total.bytesSent) / seconds / 1_000_000)) MB/s")
            print("latency ms: " + latency.map { "\($0.0) \(round3($0.1))" }.joined(separator: "  "))
            print("statuses: {\(statuses)}  errors: \(total.errors)  accepted events: \(total.accepted)")
            if let stored { print("verify: the store holds \(stored) events of \(site): \(stored == total.accepted ? "matches" : "DOES NOT MATCH") the \(total.accepted) accepted") }
        }
    }

    private func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

private func monotonicMicroseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Results of the worker threads, and a way to wait for all of them.
final class ResultBox: @unchecked Sendable {
    private let lock = NSCondition()
    private var results: [LoadResult?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: LoadResult) {
        lock.lock()
        results[index] = result
        lock.broadcast()
        lock.unlock()
    }

    func wait() {
        lock.lock()
        while results.contains(where: { $0 == nil }) { lock.wait() }
        lock.unlock()
    }

    var all: [LoadResult] { results.compactMap { $0 } }
}
