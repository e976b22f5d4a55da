import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// `--clickhouse-query-memory` against a real clickhouse-server: a query that needs more is refused with a JSON
/// error naming the option (422, as a query past the embedded engine's budget is), and the gateway goes on.
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled, Comment(rawValue: ClickHouseServers.skipMessage)))
struct ClickHouseQueryMemoryTests {
    static func query(_ port: Int) throws -> TestResponse {
        let body = #"{"site":"ch.example.com","date_range":"all","metrics":["visitors","pageviews"],"dimensions":["event:page"]}"#
        return try ExposureTests.request(try TestClient(port: port), "POST", "/api/query", body: body)
    }

    @Test func aQueryPastTheMemoryCapIsRefusedAndTheGatewayGoesOn() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let url = servers.servers[0].url
        #expect(try ClickHouseShippingTests.clarm(["clickhouse", "init", "--clickhouse", url]).status == 0)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let base = ["--clickhouse", url, "--clickhouse-interval-ms", "100", "--query-engine", "clickhouse"]
        // 1 MiB: less than ClickHouse takes for any read of the table (it reserves about 2 MiB at once).
        let (tight, tightPort) = try ServeProcess.launch(["--data", "\(directory.path)/a"] + base + ["--clickhouse-query-memory", "1M"])
        defer { kill(tight.processIdentifier, SIGKILL); tight.waitUntilExit() }
        #expect(try ClickHouseShippingTests.post(0..<500, port: tightPort))
        #expect(try ClickHouseShippingTests.waitFor(20) { try ClickHouseShippingTests.shipped(servers).count == 500 })

        for _ in 0..<3 {
            let refused = try Self.query(tightPort)
            #expect(refused.status == 422)
            let error = (try? JSONSerialization.jsonObject(with: Data(refused.body))) as? [String: Any]
            #expect((error?["error"] as? String)?.contains("--clickhouse-query-memory") == true, "\(String(decoding: refused.body, as: UTF8.self))")
        }
        #expect(try ClickHouseShippingTests.cluster(tightPort)["shipping"] as? Bool == true)

        // The default cap answers the same query over the same rows.
        let (roomy, roomyPort) = try ServeProcess.launch(["--data", "\(directory.path)/b"] + base)
        defer { kill(roomy.processIdentifier, SIGKILL); roomy.waitUntilExit() }
        let answered = try Self.query(roomyPort)
        #expect(answered.status == 200, "\(String(decoding: answered.body, as: UTF8.self))")
    }
}
