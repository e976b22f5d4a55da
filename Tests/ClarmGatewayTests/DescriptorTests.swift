import Glibc
import Foundation
import Testing
import ClarmTestSupport

/// `clarm serve` under a lowered descriptor limit (`prlimit`): it raises the soft limit to the hard one, keeps a
/// reserve for storage, and takes only the rest for connections, so storage never meets EMFILE.
@Suite struct DescriptorTests {
    static let prlimit = "/usr/bin/prlimit"

    @Test func connectionLimitLeavesStorageItsDescriptors() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let log = URL(fileURLWithPath: data.path + "/log")
        // 200 descriptors - (64 fixed + 8 × 2 shards + 4 × 1 loop) = 116 connections.
        // Every event sealed at once, so storage keeps opening segment files while the connections are all open.
        let (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--shards", "2", "--seal-events", "1"],
                                                      wrapper: [Self.prlimit, "--nofile=200:200"], log: log)
        defer { if process.isRunning { process.terminate() } }
        var clients: [TestClient] = []
        for _ in 0..<116 {
            let client = try TestClient(port: port)
            try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse()?.status == 200)
            clients.append(client)
        }
        let beyond = try TestClient(port: port)
        #expect(try beyond.readResponse()?.status == 503)
        // Every connection open, storage still opens what it needs: events are logged, sealed, and sealed at exit.
        for (i, client) in clients.enumerated() where i % 10 == 0 {
            try client.send(trackRequest(oneEvent.replacingOccurrences(of: "\"v1\"", with: "\"v\(i)\"")))
            #expect(try client.readResponse()?.status == 202)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("descriptor limit 200: 84 reserved for storage and the event loops, max connections 116"), "\(text)")
        #expect(!text.contains("Too many open files"), "\(text)")
    }

    @Test func softLimitIsRaisedAndAnExplicitLimitLoweredToFit() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let log = URL(fileURLWithPath: data.path + "/log")
        let (process, _) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--shards", "1", "--max-connections", "100000"],
                                                   wrapper: [Self.prlimit, "--nofile=256:512"], log: log)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("descriptor limit raised from 256 to 512"), "\(text)")
        #expect(text.contains("--max-connections 100000 does not fit the descriptor limit: lowered to 436"), "\(text)")
        #expect(text.contains("max connections 436"), "\(text)")
    }

    @Test func aLimitTooLowForAnyConnectionStopsTheStart() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.prlimit)
        process.arguments = ["--nofile=70:70", ServeProcess.binary.path, "serve", "--port", "0", "--data", data.path + "/store",
                             "--loops", "1", "--shards", "1"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        for _ in 0..<1000 where process.isRunning { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("clarm serve kept running on a descriptor limit that leaves no room for connections")
        }
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("leaves nothing for connections"), "\(text)")
    }
}
