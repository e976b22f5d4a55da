import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// `DELETE /api/visitors/{id}` on a gateway that ships to a real clickhouse-server: the visitor's rows leave
/// ClickHouse too, after a SIGKILL between the erasure and the deletion, with ClickHouse down when it was
/// asked, and when a batch holding the visitor was still on its way to ClickHouse at the time.
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled, Comment(rawValue: ClickHouseServers.skipMessage)))
struct ClickHouseErasureTests {
    static let site = "ch.example.com"

    /// Events `numbers` of `visitor`, each with its own id and URL.
    static func post(_ numbers: Range<Int>, visitor: String, port: Int) throws -> Bool {
        let body = "[" + numbers.map { n in
            #"{"event":"page_view","visitor_id":"\#(visitor)","session_id":"s-\#(n % 3)","event_id":"\#(visitor)-\#(n)","url":"https://ch.example.com/e/\#(n)","timestamp":"2026-11-05T08:19:19.685Z","site":"ch.example.com"}"#
        }.joined(separator: ",") + "]"
        let client = try TestClient(port: port)
        try client.send(trackRequest(body))
        return try client.readResponse()?.status == 202
    }

    static func erase(_ visitor: String, port: Int) throws -> (status: Int, body: String) {
        let response = try ExposureTests.request(try TestClient(port: port), "DELETE", "/api/visitors/\(visitor)?site=\(site)")
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// Rows of `visitor` as the queries count them; -1 while ClickHouse does not answer.
    static func rows(_ servers: ClickHouseServers, _ visitor: String) -> Int {
        guard let text = try? servers.query("SELECT count() FROM clarm.events FINAL WHERE site = '\(site)' AND visitor_id = '\(visitor)'") else { return -1 }
        return Int(text.dropLast()) ?? -1
    }

    static func erasures(_ port: Int) throws -> [String: Any] {
        try ClickHouseShippingTests.cluster(port)["erasures"] as? [String: Any] ?? [:]
    }

    @Test func erasedVisitorsLeaveClickHouseAcrossSIGKILLOutageAndABatchInFlight() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let url = servers.servers[0].url
        #expect(try ClickHouseShippingTests.clarm(["clickhouse", "init", "--clickhouse", url]).status == 0)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let arguments = ["--data", directory.path, "--shards", "2", "--clickhouse", url, "--clickhouse-interval-ms", "100"]
        var (process, port) = try ServeProcess.launch(arguments)
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }

        let visitors = ["kept", "gone", "killed", "late"]
        for (index, visitor) in visitors.enumerated() {
            #expect(try Self.post((index * 100)..<(index * 100 + 100), visitor: visitor, port: port))
        }
        #expect(ClickHouseShippingTests.waitFor(20) { visitors.allSatisfy { Self.rows(servers, $0) == 100 } })

        // ClickHouse up: the rows go within a few seconds of the answer.
        let erased = try Self.erase("gone", port: port)
        #expect(erased.status == 200, "\(erased.body)")
        #expect(ClickHouseShippingTests.waitFor(30) { Self.rows(servers, "gone") == 0 })

        // ClickHouse down when asked, and the gateway killed before it came back: the record survives.
        servers.stop(0)
        #expect(try Self.erase("killed", port: port).status == 200)
        #expect(try Self.erasures(port)["pending"] as? Int == 1)
        #expect(FileManager.default.fileExists(atPath: "\(directory.path)/clickhouse/erasures"))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try servers.start(0)
        #expect(Self.rows(servers, "killed") == 100)
        (process, port) = try ServeProcess.launch(arguments)
        #expect(ClickHouseShippingTests.waitFor(30) { Self.rows(servers, "killed") == 0 })
        #expect(ClickHouseShippingTests.waitFor(5) { (try? Self.erasures(port)["pending"] as? Int) == 0 })
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/clickhouse/erasures"))

        // A batch holding the visitor read before the erasure and inserted after it (ClickHouse was down): the
        // deletion waits for it, so no row of the visitor is left behind.
        servers.stop(0)
        #expect(try Self.post(1000..<1050, visitor: "late", port: port))
        #expect(ClickHouseShippingTests.waitFor(10) {
            (try? ClickHouseShippingTests.cluster(port)["shards"] as? [[String: Any]])?.contains { $0["pending"] as? Int == 50 } == true
        })
        // Eight seconds of failed inserts: the batch's next attempt is seconds away (backoff), so a deletion
        // that did not wait for it would reach ClickHouse first once it is back.
        usleep(8_000_000)
        #expect(try Self.erase("late", port: port).status == 200)
        // Not even tried while the batch waits: the deletion would reach ClickHouse before the batch.
        usleep(2_000_000)
        let waiting = try Self.erasures(port)
        #expect(waiting["pending"] as? Int == 1 && waiting["failures"] as? Int == 0, "\(waiting)")
        try servers.start(0)
        #expect(ClickHouseShippingTests.waitFor(60) {
            Self.rows(servers, "late") == 0 && (try? Self.erasures(port)["pending"] as? Int) == 0
        })
        // Once ClickHouse took the deletion, nothing of the visitor comes back; the others are untouched.
        usleep(1_000_000)
        #expect(Self.rows(servers, "late") == 0)
        #expect(Self.rows(servers, "kept") == 100)
        #expect(try servers.query("SELECT count() FROM clarm.events FINAL") == "100\n")
    }

    /// On a two-shard cluster the deletion runs on every shard's local table; a gateway given one server of the
    /// two says so instead of deleting on one shard only.
    @Test func aClusterErasureReachesEveryShard() throws {
        let servers = try ClickHouseServers(count: 2)
        defer { servers.shutdown() }
        let urls = servers.servers.map(\.url)
        let cluster = ["--clickhouse-cluster", ClickHouseServers.cluster]
        #expect(try ClickHouseShippingTests.clarm(["clickhouse", "init"] + urls.flatMap { ["--clickhouse", $0] } + cluster).status == 0)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let visitors = (0..<12).map { "visitor-\($0)" }
        func rows(_ visitor: String) -> Int {
            guard let text = try? servers.query("SELECT count() FROM clarm.events FINAL WHERE visitor_id = '\(visitor)'") else { return -1 }
            return Int(text.dropLast()) ?? -1
        }
        func shardsHolding(_ visitor: String) -> [Int] {
            (0..<2).filter { (try? servers.query("SELECT count() FROM clarm.events_local WHERE visitor_id = '\(visitor)'", server: $0)) != "0\n" }
        }

        // One server of the two: the deletion is refused with a reason, and the record stays.
        var (process, port) = try ServeProcess.launch(["--data", directory.path, "--clickhouse", urls[0], "--clickhouse-interval-ms", "100"] + cluster)
        for (index, visitor) in visitors.enumerated() { #expect(try Self.post((index * 10)..<(index * 10 + 10), visitor: visitor, port: port)) }
        #expect(ClickHouseShippingTests.waitFor(20) { visitors.allSatisfy { rows($0) == 10 } })
        let onBoth = [visitors.first { shardsHolding($0) == [0] }, visitors.first { shardsHolding($0) == [1] }].compactMap { $0 }
        #expect(onBoth.count == 2, "the visitors should spread over both shards")
        for visitor in onBoth { #expect(try Self.erase(visitor, port: port).status == 200) }
        #expect(ClickHouseShippingTests.waitFor(10) {
            (try? Self.erasures(port)["last_error"] as? String)?.contains("give --clickhouse once for each shard's server") == true
        })
        #expect(try Self.erasures(port)["pending"] as? Int == 2)
        #expect(onBoth.allSatisfy { rows($0) == 10 })
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()

        // Both servers: the rows go from both shards, and only theirs.
        (process, port) = try ServeProcess.launch(["--data", directory.path] + urls.flatMap { ["--clickhouse", $0] } + cluster)
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        #expect(ClickHouseShippingTests.waitFor(30) { onBoth.allSatisfy { rows($0) == 0 } })
        #expect(ClickHouseShippingTests.waitFor(5) { (try? Self.erasures(port)["pending"] as? Int) == 0 })
        #expect(try servers.query("SELECT count() FROM clarm.events FINAL") == "\(10 * (visitors.count - 2))\n")
    }
}
