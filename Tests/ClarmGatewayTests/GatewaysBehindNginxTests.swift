import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// Two gateways with their own data directories behind a real nginx (`deploy/nginx-gateways.conf`), both shipping
/// to one clickhouse-server: one is killed with SIGKILL mid-way and restarted; ClickHouse then holds every
/// acknowledged event exactly once, and queries through either gateway (`--query-engine clickhouse`) agree.
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx"),
                             "clickhouse-server or nginx is not installed (Tools/setup.sh installs them)"))
struct GatewaysBehindNginxTests {
    static func post(_ numbers: Range<Int>, port: Int) -> Bool {
        guard let client = try? TestClient(port: port) else { return false }
        guard (try? client.send(trackRequest(ClickHouseShippingTests.body(numbers)))) != nil else { return false }
        return (try? client.readResponse())?.status == 202
    }

    static func query(port: Int) throws -> String {
        let body = #"{"site":"ch.example.com","date_range":"all","metrics":["visitors","events","pageviews"],"dimensions":["event:page"],"limit":5}"#
        let client = try TestClient(port: port)
        try client.send("POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let text = String(decoding: try client.readResponse()?.body ?? [], as: UTF8.self)
        // took_ms differs between runs; the results must not.
        return String(text.split(separator: "\"meta\"").first ?? "")
    }

    @Test func everyAcknowledgedEventOnceThroughTheBalancerAcrossASIGKILL() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let url = servers.servers[0].url
        #expect(try ClickHouseShippingTests.clarm(["clickhouse", "init", "--clickhouse", url]).status == 0)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        func gateway(_ n: Int, port: Int? = nil) throws -> (Process, Int) {
            try ServeProcess.launch(["--data", "\(directory.path)/g\(n)", "--shards", "2", "--clickhouse", url,
                                     "--clickhouse-interval-ms", "100", "--query-engine", "clickhouse"]
                                    + (port.map { ["--port", String($0)] } ?? []))
        }
        var (first, firstPort) = try gateway(1)
        let (second, secondPort) = try gateway(2)
        defer {
            for process in [first, second] { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
        let listen = ClickHouseServers.freePort()
        let prefix = "\(directory.path)/nginx"
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        let template = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/nginx-gateways.conf").path, encoding: .utf8)
        try template.replacingOccurrences(of: "GATEWAY_1", with: String(firstPort)).replacingOccurrences(of: "GATEWAY_2", with: String(secondPort))
            .replacingOccurrences(of: "LISTEN", with: String(listen)).replacingOccurrences(of: "PREFIX", with: prefix)
            .write(toFile: "\(prefix)/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        nginx.arguments = ["-c", "\(prefix)/nginx.conf", "-p", prefix]
        nginx.standardError = FileHandle.nullDevice
        try nginx.run()
        defer { nginx.terminate(); nginx.waitUntilExit() }
        #expect(try ClickHouseShippingTests.waitFor(5) { (try? TestClient(port: listen)) != nil })

        var acknowledged = Set<Int>()
        for batch in 0..<40 {
            let numbers = (batch * 25)..<(batch * 25 + 25)
            if batch == 15 {
                kill(first.processIdentifier, SIGKILL)
                first.waitUntilExit()
            }
            if batch == 25 { (first, firstPort) = try gateway(1, port: firstPort) }
            // A client whose request failed sends it again, with the same event ids, as the loader does.
            for _ in 0..<5 where !acknowledged.contains(numbers.lowerBound) {
                if Self.post(numbers, port: listen) { acknowledged.formUnion(numbers) } else { usleep(200_000) }
            }
        }
        #expect(acknowledged.count == 1000)
        #expect(try ClickHouseShippingTests.waitFor(30) { try ClickHouseShippingTests.shipped(servers).count == acknowledged.count })
        let counts = try ClickHouseShippingTests.shipped(servers)
        #expect(Set(counts.keys) == acknowledged)
        #expect(counts.values.allSatisfy { $0 == 1 })
        let throughFirst = try Self.query(port: firstPort), throughSecond = try Self.query(port: secondPort)
        #expect(throughFirst == throughSecond)
        #expect(throughFirst.contains("\"results\":[{"), "\(throughFirst)")
    }
}
