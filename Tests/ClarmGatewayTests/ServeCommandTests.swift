import Glibc
import Foundation
import Testing
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
        try "# query clients\nfirst-key\n\n  second-key  \n".write(toFile: data.path + "/keys", atomically: true, encoding: .utf8)
        let (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--api-key-file", data.path + "/keys"])
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let client = try TestClient(port: port)
        let query = #"{"site":"s","metrics":["visitors"]}"#
        for (key, status) in [(nil, 401), ("# query clients", 401), ("second-key", 200), ("first-key", 200)] as [(String?, Int)] {
            let auth = key.map { "Authorization: Bearer \($0)\r\n" } ?? ""
            try client.send("POST /api/query HTTP/1.1\r\nHost: t\r\n\(auth)Content-Length: \(query.utf8.count)\r\n\r\n\(query)")
            #expect(try client.readResponse()?.status == status, "\(String(describing: key))")
        }
    }

    @Test(arguments: [["--port", "70000"], ["--query-concurrency", "0"], ["--query-queue", "100000"],
                      ["--query-timeout", "0"], ["--query-max-rows", "0"]])
    func rejectsBadOptions(_ options: [String]) throws {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = ["serve"] + options
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
    }
}
