import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// A real gateway process shipping to a real clickhouse-server: every acknowledged event lands in ClickHouse
/// exactly once as the queries count it, through a backfill, a SIGKILL, and ClickHouse down for a while.
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled, Comment(rawValue: ClickHouseServers.skipMessage)))
struct ClickHouseShippingTests {
    /// Events `numbers`, with ids: visitor `n % 41`, one URL per event so a row names its event.
    static func body(_ numbers: Range<Int>, withIDs: Bool = true) -> String {
        "[" + numbers.map { n in
            let id = withIDs ? #""event_id":"id-\#(n)","# : ""
            return #"{"event":"page_view","visitor_id":"v-\#(n % 41)","session_id":"s-\#(n % 7)",\#(id)"url":"https://ch.example.com/e/\#(n)","timestamp":"2026-11-05T08:19:19.685Z","site":"ch.example.com"}"#
        }.joined(separator: ",") + "]"
    }

    static func post(_ numbers: Range<Int>, port: Int, withIDs: Bool = true) throws -> Bool {
        let client = try TestClient(port: port)
        try client.send(trackRequest(body(numbers, withIDs: withIDs)))
        return try client.readResponse()?.status == 202
    }

    static func clarm(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        let output = pipe.fileHandleForReading.availableData
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The event numbers ClickHouse holds, as the queries count them (FINAL), with how often each occurs.
    static func shipped(_ servers: ClickHouseServers) throws -> [Int: Int] {
        let text = try servers.query("SELECT url FROM clarm.events FINAL WHERE site = 'ch.example.com'")
        var counts: [Int: Int] = [:]
        for line in text.split(separator: "\n") { counts[Int(line.split(separator: "/").last ?? "") ?? -1, default: 0] += 1 }
        return counts
    }

    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    static func cluster(_ port: Int) throws -> [String: Any] {
        let client = try TestClient(port: port)
        try client.send("GET /api/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let response = try client.readResponse()
        return (try? JSONSerialization.jsonObject(with: Data(response?.body ?? []))) as? [String: Any] ?? [:]
    }

    @Test func backfillThenShippingSurviveSIGKILLAndAClickHouseOutage() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let url = servers.servers[0].url
        let initialized = try Self.clarm(["clickhouse", "init", "--clickhouse", url])
        #expect(initialized.status == 0, "\(initialized.output)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let base = ["--data", directory.path, "--shards", "2", "--seal-events", "300"]

        // Events stored before shipping is enabled, some without ids: the backfill sends them.
        var (process, port) = try ServeProcess.launch(base)
        var acknowledged = Set<Int>()
        for start in stride(from: 0, to: 1000, by: 100) where try Self.post(start..<(start + 100), port: port, withIDs: start % 200 == 0) {
            acknowledged.formUnion(start..<(start + 100))
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()

        let shipping = base + ["--clickhouse", url, "--clickhouse-interval-ms", "100"]
        (process, port) = try ServeProcess.launch(shipping)
        for start in stride(from: 1000, to: 1600, by: 50) where try Self.post(start..<(start + 50), port: port) {
            acknowledged.formUnion(start..<(start + 50))
        }
        // Killed while shipping: what it had not acknowledged to the feed goes again after the restart.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        (process, port) = try ServeProcess.launch(shipping)
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }

        // ClickHouse down: 202s go on, the backlog grows, the error is reported; then it comes back.
        #expect(try Self.waitFor(20) { try Self.shipped(servers).count == acknowledged.count })
        servers.stop(0)
        for start in stride(from: 1600, to: 2000, by: 50) where try Self.post(start..<(start + 50), port: port) {
            acknowledged.formUnion(start..<(start + 50))
        }
        #expect(acknowledged.count == 2000)
        #expect(try Self.waitFor(5) { (try Self.cluster(port)["last_error"] as? String)?.contains("cannot connect") == true })
        let during = try Self.cluster(port)
        #expect((during["backlog_bytes"] as? Int ?? 0) > 0, "\(during)")
        try servers.start(0)

        #expect(try Self.waitFor(30) { try Self.shipped(servers).count == acknowledged.count })
        let counts = try Self.shipped(servers)
        let missing = acknowledged.subtracting(counts.keys).sorted(), twice = counts.filter { $0.value != 1 }.keys.sorted()
        #expect(missing.isEmpty, "\(missing.count) acknowledged events missing, such as \(missing.prefix(10))")
        #expect(twice.isEmpty, "events counted twice: \(twice.prefix(10))")
        // uniqExact over the event key counts the same without FINAL, merged or not.
        #expect(try servers.query("SELECT uniqExact(event_key) FROM clarm.events") == "2000\n")
        let status = try Self.cluster(port)
        #expect((status["backfill"] as? [String: Any])?["done"] as? Bool == true, "\(status)")
        #expect(try Self.waitFor(5) { try Self.cluster(port)["backlog_bytes"] as? Int == 0 })
    }
}
