import Foundation
import Testing
import ClarmStorage

/// `/healthz` reports storage problems, and 503 only while `/api/track` cannot store events.
@Suite struct HealthRouteTests {
    func events(_ count: Int, padding: Int) -> String {
        "[" + (0..<count).map { n in
            #"{"event":"page_view","visitor_id":"v-\#(n)","url":"https://shop.example.com/","properties":{"pad":"\#(String(repeating: "x", count: padding))"}}"#
        }.joined(separator: ",") + "]"
    }

    func health(_ client: TestClient, headers: String = "Host: 127.0.0.1\r\n") throws -> (status: Int?, body: [String: Any]) {
        try client.send("GET /healthz HTTP/1.1\r\n\(headers)\r\n")
        let response = try client.readResponse()
        let body = response.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] } ?? [:]
        return (response?.status, body)
    }

    @Test func pastTheMemoryLimitTrackAnswers503AndHealthSaysWhy() throws {
        var options = StoreOptions()
        options.memoryLimit = 16 << 10
        try withGateway(options: options) { port, _ in
            let client = try TestClient(port: port)
            let (status, body) = try health(client)
            #expect(status == 200)
            #expect(body["status"] as? String == "ok")

            try client.send(trackRequest(events(100, padding: 800)))
            let refused = try client.readResponse()
            #expect(refused?.status == 503)
            #expect(refused?.header("Retry-After") == "5")
            let degraded = try health(client)
            #expect(degraded.status == 503)
            #expect(degraded.body["status"] as? String == "degraded")
            let problems = degraded.body["problems"] as? [String] ?? []
            #expect(problems.contains { $0.contains("memory limit") }, "\(problems)")
            // Through a proxy, or under another name, only the status: the problems name files and errors.
            for headers in ["Host: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\n", "Host: elsewhere.example\r\n"] {
                let outside = try health(client, headers: headers)
                #expect(outside.status == 503)
                #expect(outside.body["status"] as? String == "degraded")
                #expect(outside.body["problems"] == nil)
            }

            try client.send(trackRequest(events(20, padding: 10)))
            #expect(try client.readResponse()?.status == 202)
            #expect(try health(client).status == 200)
        }
    }
}
