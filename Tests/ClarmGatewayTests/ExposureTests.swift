import Glibc
import Foundation
import Testing
import ClarmGateway
import ClarmTestSupport

/// What a gateway on the internet shows to browsers and strangers, over real sockets: CORS only where sites need
/// it, private routes only under the gateway's own names, no query API without a key off loopback, and the headers
/// browsers act on.
@Suite struct ExposureTests {
    static func request(_ client: TestClient, _ method: String, _ target: String, host: String? = "127.0.0.1",
                        headers: [String] = [], body: String = "", minorVersion: Int = 1) throws -> TestResponse {
        var head = "\(method) \(target) HTTP/1.\(minorVersion)\r\n"
        if let host { head += "Host: \(host)\r\n" }
        for header in headers { head += header + "\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.utf8.count)\r\n" }
        try client.send(head + "\r\n" + body)
        guard let response = try client.readResponse() else { throw TestFailure("no response to \(method) \(target)") }
        return response
    }

    static let query = #"{"site":"shop.example.com","metrics":["visitors"]}"#
    static let evil = "Origin: https://evil.example"

    @Test func queryRoutesAndDashboardGiveNoCORSToOtherOrigins() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let visitors = try Self.request(client, "GET", "/api/visitors?site=shop.example.com", headers: [Self.evil])
            #expect(visitors.status == 200)
            #expect(visitors.header("access-control-allow-origin") == nil)
            #expect(visitors.header("cache-control") == "no-store")
            for (method, target, body) in [("POST", "/api/query", Self.query), ("GET", "/api/visitors/v1?site=s", ""),
                                           ("GET", "/api/conversions?site=s", ""), ("GET", "/", ""), ("GET", "/healthz", ""),
                                           ("GET", "/api/nothing-here", ""), ("DELETE", "/api/query", "")] {
                let response = try Self.request(client, method, target, headers: [Self.evil], body: body)
                #expect(response.header("access-control-allow-origin") == nil, "\(method) \(target)")
            }
            // Their preflights allow nothing.
            let preflight = try Self.request(client, "OPTIONS", "/api/query",
                                             headers: [Self.evil, "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization"])
            #expect(preflight.header("access-control-allow-origin") == nil)
            #expect(preflight.header("access-control-allow-methods") == nil)
            #expect(preflight.header("access-control-allow-headers") == nil)

            // Sites still post events from anywhere, and load the loader.
            try client.send(trackRequest(oneEvent, extraHeaders: Self.evil + "\r\n"))
            let tracked = try #require(try client.readResponse())
            #expect(tracked.status == 202)
            #expect(tracked.header("access-control-allow-origin") == "https://evil.example")
            let trackPreflight = try Self.request(client, "OPTIONS", "/api/track", headers: [Self.evil, "Access-Control-Request-Method: POST"])
            #expect(trackPreflight.header("access-control-allow-origin") == "https://evil.example")
            #expect(try Self.request(client, "GET", "/clarm.js", headers: [Self.evil]).header("access-control-allow-origin") == "*")
        }
    }

    @Test func aDashboardOriginIsEchoedExactly() throws {
        let access = GatewayAccess(dashboardOrigins: ["https://dash.example.com"])
        try withGateway(access: access) { port, _ in
            let client = try TestClient(port: port)
            let allowed = try Self.request(client, "POST", "/api/query", headers: ["Origin: https://dash.example.com"], body: Self.query)
            #expect(allowed.status == 200)
            #expect(allowed.header("access-control-allow-origin") == "https://dash.example.com")
            #expect(allowed.header("vary") == "Origin")
            let preflight = try Self.request(client, "OPTIONS", "/api/query",
                                             headers: ["Origin: https://dash.example.com", "Access-Control-Request-Method: POST"])
            #expect(preflight.header("access-control-allow-origin") == "https://dash.example.com")
            #expect(preflight.header("access-control-allow-methods") == "POST, OPTIONS")
            for origin in ["https://dash.example.com.evil.example", "http://dash.example.com", "https://DASH.example.com", "null"] {
                let other = try Self.request(client, "GET", "/api/visitors?site=s", headers: ["Origin: " + origin])
                #expect(other.status == 200)
                #expect(other.header("access-control-allow-origin") == nil, "\(origin)")
                #expect(other.header("vary") == "Origin", "caches must keep the answers for different origins apart")
            }
        }
    }

    @Test func privateRoutesAnswerOnlyTheGatewaysNames() throws {
        let access = GatewayAccess(listenHost: "::1", publicHosts: ["analytics.example.com"])
        try withGateway(access: access) { port, _ in
            let client = try TestClient(port: port)
            for host in ["evil.example", "127.0.0.2", "localhost.evil.example", "analytics.example.com.evil.example", "[::2]", "::1"] {
                for (method, target, body) in [("POST", "/api/query", Self.query), ("GET", "/api/visitors?site=s", ""),
                                               ("GET", "/api/conversions?site=s", ""), ("GET", "/", ""), ("GET", "/metrics", "")] {
                    let response = try Self.request(client, method, target, host: host, body: body)
                    #expect(response.status == 421, "\(host) \(target)")
                    let error = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
                    #expect(error?["error"]?.contains("--public-host") == true)
                }
            }
            for host in ["127.0.0.1", "localhost", "LocalHost.:8080", "[::1]:80", "analytics.example.com", "Analytics.Example.com:443"] {
                #expect(try Self.request(client, "POST", "/api/query", host: host, body: Self.query).status == 200, "\(host)")
            }
            // An absolute-form target names the host the request is for (RFC 9112 §3.2.2), whatever Host says.
            #expect(try Self.request(client, "GET", "http://evil.example/api/visitors?site=s").status == 421)
            #expect(try Self.request(client, "GET", "http://localhost:1/api/visitors?site=s", host: "evil.example").status == 200)
            // HTTP/1.0 allows a request without Host; the private routes do not.
            let bare = try TestClient(port: port)
            #expect(try Self.request(bare, "GET", "/api/visitors?site=s", host: nil, minorVersion: 0).status == 421)
            // Sites reach tracking, the loader and liveness under names of their own.
            let foreign = "shop.example.com"
            try client.send(trackRequest(oneEvent).replacingOccurrences(of: "Host: test", with: "Host: " + foreign))
            #expect(try client.readResponse()?.status == 202)
            #expect(try Self.request(client, "GET", "/clarm.js", host: foreign).status == 200)
            #expect(try Self.request(client, "GET", "/healthz", host: foreign).status == 200)
            #expect(try Self.request(client, "GET", "/favicon.ico", host: foreign).status == 200)
        }
    }

    @Test func aKeylessLoopbackGatewayRefusesProxiedQueries() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            #expect(try Self.request(client, "GET", "/api/visitors?site=s").status == 200, "this machine's own clients")
            let proxied = try Self.request(client, "GET", "/api/visitors?site=s", headers: ["X-Forwarded-For: 203.0.113.7"])
            #expect(proxied.status == 401)
            #expect(proxied.text.contains("--api-key"), "\(proxied.text)")
        }
    }

    @Test func anExposedGatewayWithoutKeysRefusesQueries() throws {
        try withGateway(access: GatewayAccess(listenHost: "0.0.0.0", exposed: true)) { port, _ in
            let client = try TestClient(port: port)
            for (method, target, body) in [("POST", "/api/query", Self.query), ("GET", "/api/visitors?site=s", ""),
                                           ("GET", "/api/visitors/v1?site=s", ""), ("GET", "/api/conversions?site=s", "")] {
                let response = try Self.request(client, method, target, body: body)
                #expect(response.status == 401, "\(target)")
                #expect(response.header("www-authenticate") == "Bearer")
                #expect(response.text.contains("--api-key"), "\(response.text)")
            }
            try client.send(trackRequest(oneEvent))
            #expect(try client.readResponse()?.status == 202)
        }
        let key = "0123456789abcdef-key"
        try withGateway(access: GatewayAccess(apiKeys: [key], listenHost: "0.0.0.0", exposed: true)) { port, _ in
            let client = try TestClient(port: port)
            #expect(try Self.request(client, "POST", "/api/query", body: Self.query).status == 401)
            #expect(try Self.request(client, "POST", "/api/query", headers: ["Authorization: Bearer " + key], body: Self.query).status == 200)
            #expect(try Self.request(client, "POST", "/api/query", headers: ["Authorization: bearer " + key], body: Self.query).status == 200)
            #expect(try Self.request(client, "POST", "/api/query", headers: ["Authorization: Basic " + key], body: Self.query).status == 401)
        }
    }

    @Test func apiKeysMatchWholeKeysOnly() throws {
        let keys = APIKeys(["first-key-0123456789", "second-key-abcdefghijkl"])
        func accepts(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { keys.accepts($0) }
        }
        #expect(accepts("first-key-0123456789"))
        #expect(accepts("second-key-abcdefghijkl"))
        for wrong in ["", "first-key-012345678", "first-key-01234567890", "second-key-abcdefghijkl ", "First-key-0123456789",
                      "first-key-0123456789second-key-abcdefghijkl"] {
            #expect(!accepts(wrong), "\(wrong)")
        }
        #expect(!APIKeys([]).accepts(UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    @Test func browsersGetTheHeadersTheyActOn() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let dashboard = try Self.request(client, "GET", "/")
            let policy = try #require(dashboard.header("content-security-policy"))
            for directive in ["default-src 'none'", "script-src 'sha256-", "style-src 'sha256-", "connect-src 'self'", "img-src 'self' data:",
                              "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"] {
                #expect(policy.contains(directive), "\(directive)")
            }
            #expect(!policy.contains("unsafe"))
            #expect(dashboard.header("x-frame-options") == "DENY")
            #expect(dashboard.header("referrer-policy") == "no-referrer")
            let icon = try Self.request(client, "GET", "/favicon.svg")
            #expect(icon.status == 200)
            #expect(icon.header("content-type") == "image/svg+xml")
            #expect(icon.text.hasPrefix("<svg"))
            // nosniff on every answer: routes, errors the server finds itself, a suspended answer.
            for response in [dashboard, icon, try Self.request(client, "GET", "/clarm.js"), try Self.request(client, "GET", "/nothing"),
                             try Self.request(client, "POST", "/api/query", body: Self.query)] {
                #expect(response.header("x-content-type-options") == "nosniff")
            }
            try client.send("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            let malformed = try #require(try client.readResponse())
            #expect(malformed.status == 400)
            #expect(malformed.header("x-content-type-options") == "nosniff")
        }
    }
}

/// The same rules as `clarm serve` sets them from its options.
@Suite struct ServeExposureTests {
    @Test func onAnAddressOthersReachQueriesNeedAKey() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let log = URL(fileURLWithPath: data.path + "/log")
        let (process, port) = try ServeProcess.launch(["--host", "0.0.0.0", "--data", data.path + "/store", "--loops", "1"], log: log)
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let client = try TestClient(port: port)
        let refused = try ExposureTests.request(client, "POST", "/api/query", body: ExposureTests.query)
        #expect(refused.status == 401)
        #expect(refused.text.contains("--api-key"))
        try client.send(trackRequest(oneEvent))
        #expect(try client.readResponse()?.status == 202)
        #expect(try String(contentsOf: log, encoding: .utf8).contains("the query API answers 401 to every request"))
    }

    @Test(arguments: [["--api-key", "short"], ["--dashboard-origin", "https://dash.example.com/path"],
                      ["--dashboard-origin", "dash.example.com"], ["--public-host", "evil.example/x"]])
    func refusesUnsafeOptions(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = ["serve", "--port", "0", "--data", "/nonexistent/never-created"] + arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains(arguments[0]) || text.contains("API keys"), "\(text)")
    }
}
