import Glibc
import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmStorage
import ClarmTestSupport
@testable import ClarmServer

@Suite struct GatewayRoundTripTests {
    @Test func acceptsAnEventOverARealSocket() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            try client.send(trackRequest(oneEvent, extraHeaders: "User-Agent: test-agent\r\n"))
            let response = try #require(try client.readResponse())
            #expect(response.status == 202)
            #expect(response.text == #"{"accepted":1,"duplicates":0,"bots":0,"rejected":[]}"#)
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("date")?.hasSuffix(" GMT") == true)
            let records = try store.allEvents()
            #expect(records.count == 1)
            #expect(records.first?.site == "shop.example.com")
            #expect(records.first?.userAgent == "test-agent")
        }
    }

    @Test func keepAliveServesRequestsInTurn() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            for i in 0..<5 {
                try client.send(trackRequest(oneEvent))
                #expect(try client.readResponse()?.status == 202, "request \(i)")
            }
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse()?.text == #"{"status":"ok"}"#)
            #expect(store.count == 5)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let requests = [
            trackRequest(oneEvent),
            "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n",
            trackRequest("[\(oneEvent),\(oneEvent)]"),
            "DELETE /api/track HTTP/1.1\r\nHost: t\r\n\r\n",
            trackRequest("{broken"),
            "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        ]
        let expected = [202, 200, 404, 202, 405, 400, 200, 200]
        let bytes = Array(requests.joined().utf8)
        for byteByByte in [false, true] {
            try withGateway { port, store in
                let client = try TestClient(port: port)
                if byteByByte {
                    for byte in bytes { try client.send([byte]) }
                } else {
                    try client.send(bytes)
                }
                var statuses: [Int] = []
                while let response = try client.readResponse(toHead: statuses.count == 6) {
                    statuses.append(response.status)
                    if response.status == 405 { #expect(response.header("allow") == "POST, OPTIONS") }
                    if statuses.count == 7 {
                        #expect(response.body.isEmpty, "HEAD has no body")
                        #expect(response.header("content-length") == "15")
                    }
                }
                #expect(statuses == expected, "byteByByte: \(byteByByte)")
                #expect(store.count == 3)
            }
        }
    }

    @Test func chunkedBodies() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            let body = Array("[\(oneEvent),\(oneEvent)]".utf8)
            var wire = "POST /api/track HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            var offset = 0
            while offset < body.count {
                let size = min(37, body.count - offset)
                wire += String(size, radix: 16) + ";ext=1\r\n" + String(decoding: body[offset..<(offset + size)], as: UTF8.self) + "\r\n"
                offset += size
            }
            wire += "0\r\nX-Trailer: yes\r\n\r\n"
            try client.send(wire + wire)
            #expect(try client.readResponse()?.text == #"{"accepted":2,"duplicates":0,"bots":0,"rejected":[]}"#)
            #expect(try client.readResponse()?.status == 202)
            #expect(store.count == 4)
        }
    }

    @Test func expectContinue() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            try client.send("POST /api/track HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: \(oneEvent.utf8.count)\r\n\r\n")
            #expect(try client.readResponse()?.status == 100)
            try client.send(oneEvent)
            #expect(try client.readResponse()?.status == 202)
            #expect(store.count == 1)
        }
    }

    /// Protocol errors are answered with their status and a JSON error, then the connection is closed.
    @Test(arguments: [
        ("POST /api/track HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST /api/track HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("POST /api/track HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST /api/track HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nX-\u{1}: t\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}", 400),
        ("POST /api/track HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "b", count: 17000) + "\r\n\r\n", 431),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ])
    func protocolErrorsCloseTheConnection(_ request: String, _ status: Int) throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try client.send(request)
            let response = try #require(try client.readResponse())
            #expect(response.status == status)
            #expect(response.header("connection") == "close")
            #expect(response.text.hasPrefix(#"{"error":""#))
            #expect(try client.isClosedByServer())
        }
    }

    @Test func applicationErrorsKeepTheConnection() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            try client.send(trackRequest(#"{"event":"x",}"#))
            let bad = try #require(try client.readResponse())
            #expect(bad.status == 400)
            #expect(bad.text == #"{"error":"invalid JSON at byte 13: trailing comma"}"#)
            try client.send(trackRequest("[1,2]"))
            let rejected = try #require(try client.readResponse())
            #expect(rejected.status == 202)
            #expect(rejected.text == #"{"accepted":0,"duplicates":0,"bots":0,"rejected":[{"index":0,"error":"event must be a JSON object"},{"index":1,"error":"event must be a JSON object"}]}"#)
            try client.send(trackRequest("42"))
            #expect(try client.readResponse()?.text == #"{"error":"body must be an event object or an array of event objects"}"#)
            try client.send(trackRequest(oneEvent, extraHeaders: "Content-Encoding: gzip\r\n"))
            #expect(try client.readResponse()?.status == 415)
            try client.send(trackRequest(oneEvent))
            #expect(try client.readResponse()?.status == 202)
            #expect(store.count == 1)
        }
    }

    @Test func http10AndConnectionClose() throws {
        try withGateway { port, _ in
            let old = try TestClient(port: port)
            try old.send("GET /healthz HTTP/1.0\r\n\r\n")
            #expect(try old.readResponse()?.status == 200)
            #expect(try old.isClosedByServer())

            let oldKeepAlive = try TestClient(port: port)
            try oldKeepAlive.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try oldKeepAlive.readResponse()?.header("connection") == "keep-alive")
            try oldKeepAlive.send("GET /healthz HTTP/1.0\r\n\r\n")
            #expect(try oldKeepAlive.readResponse()?.status == 200)
            #expect(try oldKeepAlive.isClosedByServer())

            let closing = try TestClient(port: port)
            try closing.send(trackRequest(oneEvent, connection: "close") + trackRequest(oneEvent))
            #expect(try closing.readResponse()?.header("connection") == "close")
            #expect(try closing.isClosedByServer())
        }
    }

    @Test func corsPreflightAndOrigin() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try client.send("OPTIONS /api/track HTTP/1.1\r\nHost: t\r\nOrigin: https://shop.example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n")
            let preflight = try #require(try client.readResponse())
            #expect(preflight.status == 204)
            #expect(preflight.header("access-control-allow-origin") == "https://shop.example.com")
            #expect(preflight.header("access-control-allow-methods") == "POST, OPTIONS")
            #expect(preflight.header("access-control-allow-headers") == "content-type")
            #expect(preflight.header("content-length") == nil)
            try client.send(trackRequest(oneEvent, extraHeaders: "Origin: https://shop.example.com\r\n"))
            let posted = try #require(try client.readResponse())
            #expect(posted.header("access-control-allow-origin") == "https://shop.example.com")
            #expect(posted.header("vary") == "Origin")
        }
    }

    @Test func slowHeadersGet408() throws {
        try withGateway({ $0.headerTimeout = 300 }) { port, _ in
            let client = try TestClient(port: port)
            try client.send("POST /api/track HTTP/1.1\r\nHost: t\r\n")
            let response = try #require(try client.readResponse())
            #expect(response.status == 408)
            #expect(try client.isClosedByServer())
        }
    }

    @Test func slowBodyGets408() throws {
        try withGateway({ $0.bodyTimeout = 300 }) { port, _ in
            let client = try TestClient(port: port)
            try client.send("POST /api/track HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"event\"")
            #expect(try client.readResponse()?.status == 408)
            #expect(try client.isClosedByServer())
        }
    }

    @Test func idleConnectionsAreClosed() throws {
        try withGateway({ $0.idleTimeout = 300 }) { port, _ in
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse()?.status == 200)
            #expect(try client.isClosedByServer())
        }
    }

    @Test func connectionsBeyondTheLimitGet503() throws {
        try withGateway({ $0.maxConnections = 2 }) { port, _ in
            let first = try TestClient(port: port)
            let second = try TestClient(port: port)
            for client in [first, second] {
                try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse()?.status == 200)
            }
            let third = try TestClient(port: port)
            let refused = try #require(try third.readResponse())
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") == "1")
            #expect(try third.isClosedByServer())
            // The others still work, and a slot frees up when one leaves.
            try first.send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(try first.readResponse()?.status == 200)
            #expect(try first.isClosedByServer())
            first.hangUp()
            var admitted = false
            for _ in 0..<50 where !admitted {
                let next = try TestClient(port: port)
                try next.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                admitted = try next.readResponse()?.status == 200
                if !admitted { usleep(20_000) }
            }
            #expect(admitted)
        }
    }

    @Test func backpressureKeepsOrderUnderLoad() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let count = 3000
            let request = Array("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
            let sender = Thread {
                // Sends everything before reading anything, so the server must stop reading while it cannot write.
                try? client.send(Array([[UInt8]](repeating: request, count: count).joined()))
            }
            sender.start()
            var answered = 0
            while answered < count, let response = try client.readResponse() {
                #expect(response.status == 200)
                answered += 1
            }
            #expect(answered == count)
        }
    }

    @Test func garbageNeverStopsTheServer() throws {
        try withGateway { port, _ in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<100 {
                let client = try TestClient(port: port)
                let bytes = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try? client.send(bytes)
            }
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse()?.status == 200)
        }
    }

    @Test func shutdownFinishesRequestsInFlight() throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.eventLoops = 2
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path)
        defer { store.close() }
        let server = try HTTPServer(configuration: configuration) { Gateway(store: store).withMaxEventAge(days: historyMaxEventAgeDays) }
        let busy = try TestClient(port: server.port)
        let idle = try TestClient(port: server.port)
        try idle.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try idle.readResponse()?.status == 200)

        let request = Array(trackRequest(oneEvent).utf8)
        try busy.send(Array(request[0..<(request.count - 10)]))
        usleep(100_000)
        server.shutdown()
        usleep(100_000)
        // The idle keep-alive connection is closed; new connections are refused.
        #expect(try idle.isClosedByServer())
        #expect(throws: TestFailure.self) { _ = try TestClient(port: server.port) }
        // The request in flight completes, with the connection marked to close.
        try busy.send(Array(request[(request.count - 10)...]))
        let response = try #require(try busy.readResponse())
        #expect(response.status == 202)
        #expect(response.header("connection") == "close")
        server.waitUntilStopped()
        #expect(store.count == 1)
    }
}
