import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// `clarm-load` against a real gateway: closed and open loop, its JSON report, and `--verify`.
@Suite struct LoadToolTests {
    func load(_ arguments: [String]) throws -> (status: Int32, report: [String: Any]?) {
        let process = Process()
        process.executableURL = ServeProcess.product("clarm-load")
        process.arguments = arguments + ["--json", "--threads", "2"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, try? JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func drivesAGatewayAndVerifiesWhatItStored() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let (server, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "2"])
        defer {
            kill(server.processIdentifier, SIGTERM)
            server.waitUntilExit()
        }
        let url = "http://127.0.0.1:\(port)"
        let closed = try load(["--url", url, "--connections", "4", "--depth", "2", "--batch", "20", "--events", "4000", "--seed", "11", "--verify"])
        #expect(closed.status == 0)
        #expect(closed.report?["accepted"] as? Int == 4000)
        #expect(closed.report?["verified"] as? Bool == true)
        #expect((closed.report?["statuses"] as? [String: Int])?["202"] == 200)
        #expect((closed.report?["latency_ms"] as? [String: Double])?["p99"] != nil)

        let open = try load(["--url", url, "--connections", "2", "--rate", "200", "--duration", "1", "--seed", "12", "--verify"])
        #expect(open.status == 0)
        #expect(open.report?["mode"] as? String == "open")
        let requests = open.report?["requests"] as? Int ?? 0
        #expect(requests >= 150 && requests <= 210, "about 200 requests in a second at 200/s: \(requests)")
        #expect(open.report?["verified"] as? Bool == true)

        // The same seed again sends the same events: all duplicates, nothing new stored.
        let again = try load(["--url", url, "--connections", "4", "--batch", "20", "--events", "4000", "--seed", "11"])
        #expect(again.report?["accepted"] as? Int == 0)
    }

    @Test func emitsTheSameEventsForTheSameSeed() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        for name in ["a", "b"] {
            #expect(try load(["--events", "500", "--seed", "9", "--emit", data.path + "/" + name]).status == 0)
        }
        let a = try String(contentsOfFile: data.path + "/a", encoding: .utf8)
        let b = try String(contentsOfFile: data.path + "/b", encoding: .utf8)
        let lines = a.split(separator: "\n")
        #expect(lines.count == 500)
        // Timestamps end at "now", so compare without them.
        func strip(_ text: String) -> [String] { text.split(separator: "\n").map { String($0.replacing(/"timestamp":"[^"]*"/, with: "")) } }
        #expect(strip(a) == strip(b))
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
    }
}
