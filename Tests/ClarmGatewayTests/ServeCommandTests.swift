import Glibc
import Foundation
import Testing
import ClarmEvents
import ClarmTestSupport

/// Runs the real `clarm serve` binary: it must answer, and stop cleanly (exit 0) on SIGTERM and SIGINT.
@Suite struct ServeCommandTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func servesAndStopsGracefully(_ signal: Int32) throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "2"])
        defer { if process.isRunning { process.terminate() } }
        #expect(FileManager.default.fileExists(atPath: data.path + "/store/MANIFEST"))

        let client = try TestClient(port: port)
        try client.send(trackRequest(oneEvent))
        #expect(try client.readResponse()?.status == 202)
        client.hangUp()

        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func readsAPIKeysFromAFile() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        try "# query clients\nfirst-key-0123456789\n\n  second-key-0123456789  \n".write(toFile: data.path + "/keys", atomically: true, encoding: .utf8)
        let (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--api-key-file", data.path + "/keys"])
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let client = try TestClient(port: port)
        let query = #"{"site":"s","metrics":["visitors"]}"#
        for (key, status) in [(nil, 401), ("# query clients", 401), ("second-key-0123456789", 200), ("first-key-0123456789", 200)] as [(String?, Int)] {
            let auth = key.map { "Authorization: Bearer \($0)\r\n" } ?? ""
            try client.send("POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\n\(auth)Content-Length: \(query.utf8.count)\r\n\r\n\(query)")
            #expect(try client.readResponse()?.status == status, "\(String(describing: key))")
        }
    }

    @Test(arguments: [["--port", "70000"], ["--max-event-age", "0"], ["--max-event-age", "36501"],
                      ["--query-concurrency", "0"], ["--query-queue", "100000"], ["--query-timeout", "0"], ["--query-max-rows", "0"]])
    func rejectsBadOptions(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = ["serve"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
    }

    @Test func takesTimestampsWithinTheMaxEventAge() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--max-event-age", "2"])
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000), day: Int64 = 86_400_000
        let events = [now - 3 * day, now - day, now + 2 * 3_600_000].map { time in
            #"{"event":"page_view","visitor_id":"v","site":"s.example","timestamp":"\#(Timestamp.format(time))"}"#
        }
        let client = try TestClient(port: port)
        try client.send(trackRequest("[" + events.joined(separator: ",") + "]"))
        let response = try #require(try client.readResponse())
        #expect(response.status == 202)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"accepted":1,"duplicates":0,"bots":0,"rejected":[{"index":0,"error":"timestamp is more than 2 days old"},{"index":2,"error":"timestamp is more than 1 hour in the future"}]}"#)
    }
}
