import Foundation
import Glibc
import Testing
import ClarmStorage
import ClarmTestSupport

/// One data directory, one server: a second `clarm serve` on it exits at once, naming the first, and
/// changes nothing there.
@Suite struct DataDirectoryOwnerTests {
    /// Every file under `directory` with its size.
    func listing(_ directory: String) -> [String: Int] {
        var files: [String: Int] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")
            files[name] = (attributes?[.size] as? Int) ?? -1
        }
        return files
    }

    @Test func aSecondServerOnTheSameDirectoryExitsAtOnceAndTouchesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.path
        let (first, port) = try ServeProcess.launch(["--data", data, "--shards", "1"])
        defer {
            kill(first.processIdentifier, SIGTERM)
            first.waitUntilExit()
        }
        let client = try TestClient(port: port)
        try client.send(trackRequest(#"{"event":"purchase","visitor_id":"v1","event_id":"p-1","url":"https://shop.example.com/"}"#))
        #expect(try client.readResponse()?.status == 202)
        // What a second server's recovery would delete: a temporary file of a seal in progress.
        let stray = "\(data)/shard-000/seg-0000000000000099.cseg.tmp"
        #expect(FileManager.default.createFile(atPath: stray, contents: Data("partial".utf8)))
        let before = listing(data)

        let second = Process()
        second.executableURL = ServeProcess.binary
        second.arguments = ["serve", "--port", "0", "--data", data]
        let errors = Pipe()
        second.standardError = errors
        second.standardOutput = FileHandle.nullDevice
        let started = Date()
        try second.run()
        while second.isRunning, Date().timeIntervalSince(started) < 10 { usleep(20_000) }
        if second.isRunning {
            // It serves the directory too: the very thing that must not happen.
            kill(second.processIdentifier, SIGKILL)
        }
        second.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(second.terminationStatus != 0)
        #expect(Date().timeIntervalSince(started) < 5, "it fails at once")
        #expect(message.contains("data directory \(data) is in use by process \(first.processIdentifier)"), "\(message)")
        #expect(listing(data) == before, "nothing deleted, renamed or truncated")

        // The first keeps serving, and read-only tools run beside it.
        try client.send(trackRequest(#"{"event":"purchase","visitor_id":"v2","event_id":"p-2","url":"https://shop.example.com/"}"#))
        #expect(try client.readResponse()?.status == 202)
        #expect(Store.holder(of: data) == first.processIdentifier)
        #expect(StoreVerifier.verify(directory: data).allSatisfy { !$0.isDamage })
        #expect(listing(data) == before.merging(listing(data).filter { $0.key.hasPrefix("shard-000/wal-") }) { $1 },
                "verify changed nothing but the live server's log")
    }
}
