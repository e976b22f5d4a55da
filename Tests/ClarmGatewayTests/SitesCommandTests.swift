import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// `clarm sites` against a real `clarm serve` process; registrations across a crash; a damaged file.
@Suite struct SitesCommandTests {
    /// Runs `clarm ARGUMENTS` to the end; returns its exit status, stdout and stderr.
    static func clarm(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    @Test func addListRemoveThroughTheGatewayAndSurviveACrash() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        try "the-key-of-the-sites-test\n".write(toFile: data.path + "/key", atomically: true, encoding: .utf8)
        var (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--api-key", "the-key-of-the-sites-test"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        let url = ["--url", "http://127.0.0.1:\(port)"]

        let noKey = try Self.clarm(["sites", "list"] + url)
        #expect(noKey.status != 0)
        #expect(noKey.err.contains("401"))
        let added = try Self.clarm(["sites", "add", "Shop.Example.com", "--timezone", "Europe/Berlin", "--origin", "https://shop.example.com",
                                    "--events-per-second", "100", "--api-key-file", data.path + "/key"] + url)
        #expect(added.status == 0, "\(added.err)")
        #expect(added.out.contains("registered shop.example.com"))
        let refused = try Self.clarm(["sites", "add", "bad_site", "--api-key", "the-key-of-the-sites-test"] + url)
        #expect(refused.status != 0)
        #expect(refused.err.contains("not a host name"))

        let client = try TestClient(port: port)
        let event = #"{"event":"page_view","visitor_id":"v","url":"https://shop.example.com/","timestamp":"2026-11-05T08:00:00Z"}"#
        #expect(try exchange(client, "POST", "/api/track", body: event).json["accepted"] as? Int == 1)
        #expect(try exchange(client, "POST", "/api/track", body: event.replacingOccurrences(of: "shop.", with: "other.")).json["accepted"] as? Int == 0)
        client.hangUp()

        // A crash right after the 201: the registration was saved before it was answered.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        (process, port) = try ServeProcess.launch(["--data", data.path + "/store", "--loops", "1", "--api-key", "the-key-of-the-sites-test"])
        let listed = try Self.clarm(["sites", "list", "--url", "http://127.0.0.1:\(port)/", "--api-key", "the-key-of-the-sites-test"])
        #expect(listed.status == 0, "\(listed.err)")
        #expect(listed.out.contains("shop.example.com\tEurope/Berlin\t1\t2026-11-05T08:00:00.000Z\t100\t5000\thttps://shop.example.com"), "\(listed.out)")

        let removed = try Self.clarm(["sites", "remove", "shop.example.com", "--api-key", "the-key-of-the-sites-test", "--url", "http://127.0.0.1:\(port)"])
        #expect(removed.status == 0, "\(removed.err)")
        let empty = try Self.clarm(["sites", "list", "--api-key", "the-key-of-the-sites-test", "--url", "http://127.0.0.1:\(port)"])
        #expect(empty.out.contains("no site is registered"))
        let gone = try Self.clarm(["sites", "remove", "shop.example.com", "--api-key", "the-key-of-the-sites-test", "--url", "http://127.0.0.1:\(port)"])
        #expect(gone.status != 0)
        #expect(gone.err.contains("404"))
    }

    @Test func refusesToStartOnADamagedSitesFile() throws {
        let data = TemporaryDirectory()
        defer { data.remove() }
        for damage in [#"{"clarm_sites":1,"sites":[{"site":"a.com"}"#, #"{"clarm_sites":1,"sites":[{"site":"a.com"},{"site":"a.com"}]}"#,
                       #"{"sites":[]}"#, #"{"clarm_sites":1,"sites":[{"site":"a.com","timezone":"Nowhere/Land"}]}"#] {
            try FileManager.default.createDirectory(atPath: data.path + "/store", withIntermediateDirectories: true)
            try damage.write(toFile: data.path + "/store/sites.json", atomically: true, encoding: .utf8)
            let started = try Self.clarm(["serve", "--port", "0", "--data", data.path + "/store", "--loops", "1"])
            #expect(started.status != 0, "\(damage)")
            #expect(started.err.contains("sites.json is damaged"), "\(started.err)")
            #expect(!started.out.contains("listening"))
        }
    }

    @Test func refusesBadURLsAndUnreachableGateways() throws {
        let bad = try Self.clarm(["sites", "list", "--url", "https://example.com"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("http://HOST[:PORT]"))
        let closed = try Self.clarm(["sites", "list", "--url", "http://127.0.0.1:1"])
        #expect(closed.status != 0)
        #expect(closed.err.contains("cannot connect"))
    }
}
