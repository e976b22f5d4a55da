import Glibc
import Foundation
import Testing

/// Runs the real `clarm serve` binary: it must answer, and stop cleanly (exit 0) on SIGTERM and SIGINT.
@Suite struct ServeCommandTests {
    static var binary: URL {
        // Tests/ClarmGatewayTests/ServeCommandTests.swift → the package root's debug build.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/clarm")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func servesAndStopsGracefully(_ signal: Int32) throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("clarm-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--port", "0", "--data", data.path, "--loops", "2"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The first stdout line names the port that was bound.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let port = try #require(text.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
                                "unexpected first line: \(text)")
        #expect(FileManager.default.fileExists(atPath: data.path))

        let client = try TestClient(port: port)
        try client.send(trackRequest(oneEvent))
        #expect(try client.readResponse()?.status == 202)
        client.hangUp()

        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func rejectsBadOptions() throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["serve", "--port", "70000"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
    }
}
