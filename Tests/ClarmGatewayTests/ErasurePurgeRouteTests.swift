import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// The physical step of erasure in a real `clarm serve`: killed with SIGKILL right after the erasure is
/// answered (while its purge runs), the gateway finishes the purge after the restart, after which no file of
/// the data directory, logs included, holds the visitor's id or email, and other visitors' events all stay.
@Suite struct ErasurePurgeRouteTests {
    static let site = ErasureRouteTests.site
    static let gone = "purge-gone-3f9c2e71b8a4"
    static let email = "\(gone)@mail.example"

    /// The `clarm_shard_erasures_pending` values of all shards together, from `/metrics`.
    static func pendingErasures(_ client: TestClient) throws -> Int? {
        let response = try ExposureTests.request(client, "GET", "/metrics")
        guard response.status == 200 else { return nil }
        let lines = String(decoding: response.body, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix("clarm_shard_erasures_pending{") }
        guard !lines.isEmpty else { return nil }
        return lines.reduce(0) { $0 + (Int($1.split(separator: " ").last ?? "") ?? 1_000_000) }
    }

    func holding(_ path: String) -> [String] {
        filesContaining(Self.gone, under: path) + filesContaining(Self.email, under: path)
    }

    @Test func aPurgeCutShortBySIGKILLEndsAfterTheRestartAndLeavesNoByteOfTheVisitor() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let arguments = ["--data", directory.path, "--shards", "2"]
        var (process, port) = try ServeProcess.launch(arguments)
        var client = try TestClient(port: port)
        let registered = try ExposureTests.request(client, "POST", "/api/sites", body: #"{"site":"\#(Self.site)","origins":[]}"#)
        #expect(registered.status == 201)
        // Three runs: the first two end with a clean stop, which seals their events into segments; the events
        // of the third stay in the logs.
        for part in 0..<3 {
            if part > 0 {
                (process, port) = try ServeProcess.launch(arguments)
                client = try TestClient(port: port)
            }
            for visitor in ["kept-1", Self.gone, "kept-2"] {
                try client.send(trackRequest(ErasureRouteTests.events(visitor, count: 20)
                    .replacingOccurrences(of: #""event_id":"\#(visitor)-"#, with: #""event_id":"\#(visitor)-\#(part)-"#)))
                #expect(try client.readResponse()?.status == 202)
            }
            if part < 2 {
                client.hangUp()
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
        }
        #expect(try ErasureRouteTests.pageViews(client) == 180)
        #expect(try ErasureRouteTests.eventCount(client) == 189)
        let before = holding(directory.path)
        #expect(before.contains { $0.hasSuffix(".cseg") } && before.contains { $0.hasSuffix(".log") }, "\(before)")

        let erased = try ExposureTests.request(client, "DELETE", "/api/visitors/\(Self.gone)?site=\(Self.site)")
        #expect(erased.status == 200)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        (process, port) = try ServeProcess.launch(arguments)
        client = try TestClient(port: port)
        #expect(try waitFor(seconds: 15) { try Self.pendingErasures(client) == 0 }, "the purge ends after the restart")
        #expect(holding(directory.path) == [], "no file names the erased visitor")
        #expect(try ErasureRouteTests.pageViews(client) == 120)
        #expect(try ErasureRouteTests.eventCount(client) == 126)
        #expect(try ErasureRouteTests.visitorIDs(client) == ["kept-1", "kept-2"])
        #expect(try ErasureRouteTests.get(client, "/api/visitors/\(Self.gone)?site=\(Self.site)").0 == 404)
        client.hangUp()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(holding(directory.path) == [])
    }
}
