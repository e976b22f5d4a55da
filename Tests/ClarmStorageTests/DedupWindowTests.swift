import Foundation
import Glibc
import Testing
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

@Suite struct DedupWindowTests {
    @Test func idsExpireByTimeAndTheCapShortensTheWindow() {
        var window = DedupWindow(span: 3_600, capacity: 3)
        window.insert(1, arrival: 1_000)
        window.insert(2, arrival: 2_000)
        window.expire(now: 4_601)
        #expect(!window.contains(1))
        #expect(window.contains(2))
        #expect(!window.shortened)
        window.insert(3, arrival: 4_601)
        window.insert(4, arrival: 4_602)
        window.insert(5, arrival: 4_603)
        #expect(!window.contains(2) && window.contains(3) && window.contains(5))
        #expect(window.shortened, "2 was younger than the span when the cap evicted it")
        #expect(window.coveredSeconds(now: 4_610) == 9)
        #expect(window.newest(2).map(\.hash) == [4, 5])
    }

    @Test func aLongWindowGrowsWithoutQuadraticWork() {
        var window = DedupWindow(span: 10, capacity: 1_000_000)
        // Alternate expiry and growth: each doubling copies once.
        for i in 0..<300_000 {
            window.insert(UInt64(i), arrival: UInt32(i / 1_000))
            if i % 1_000 == 0 { window.expire(now: UInt32(i / 1_000)) }
        }
        #expect(window.count <= 11_000)
        #expect(window.contains(299_999))
    }

    @Test func aCappedWindowIsReported() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.dedupMaxIDs = 10
        let notices = Notices()
        let store = try Store(directory: directory.path, options: options, report: notices.report)
        defer { store.close() }
        _ = store.appendAndWait((0..<30).map { makeEvent($0) })
        for _ in 0..<150 where !notices.all.contains(where: { $0.contains("maximum of 10 ids") }) { usleep(10_000) }
        #expect(notices.all.contains { $0.contains("maximum of 10 ids") && $0.contains("instead of 3600 s") })
    }

    /// The directory as a crash right after the seal's segment is renamed into place would leave it.
    @Test func theIdsOfASealAreDurableNoLaterThanItsSegment() throws {
        let directory = TemporaryDirectory()
        let crashed = TemporaryDirectory()
        defer { directory.remove(); crashed.remove() }
        let fs = FaultInjectingFileSystem()
        let copies = Notices()
        fs.afterRename { path in
            guard path.hasSuffix(".cseg"), copies.all.isEmpty else { return }
            copies.report(path)
            try? FileManager.default.removeItem(atPath: crashed.path)
            try? FileManager.default.copyItem(atPath: directory.path, toPath: crashed.path)
        }
        var options = StoreOptions()
        options.shards = 1
        options.sealEvents = 20
        let store = try Store(directory: directory.path, options: options, fileSystem: fs)
        _ = store.appendAndWait((0..<20).map { makeEvent($0) })
        for _ in 0..<300 where copies.all.isEmpty { usleep(10_000) }
        store.close()
        #expect(copies.all.count == 1)

        let recovered = try Store(directory: crashed.path, options: options)
        defer { recovered.close() }
        #expect(try recovered.allEvents().count == 20)
        let retry = recovered.appendAndWait((0..<20).map { makeEvent($0) })[0]
        #expect(retry.duplicates == 20, "every id of the seal is remembered")
    }

    @Test func anEarlierVersionsWindowIsConvertedAndKept() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        try Store(directory: directory.path, options: options).close()
        var legacy = Array("CLDD".utf8)
        let hashes = (0..<3).map { n in Array("e-\(n)".utf8).withUnsafeBytes { DedupWindow.hash($0) } }
        withUnsafeBytes(of: UInt32(hashes.count).littleEndian) { legacy.append(contentsOf: $0) }
        for hash in hashes { withUnsafeBytes(of: hash.littleEndian) { legacy.append(contentsOf: $0) } }
        let crc = legacy.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { legacy.append(contentsOf: $0) }
        let shard = directory.path + "/shard-000"
        let file = try PosixFileSystem().create(shard + "/dedup.ids")
        try legacy.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        file.close()

        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        #expect(store.appendAndWait((0..<4).map { makeEvent($0) })[0].duplicates == 3)
        let files = try PosixFileSystem().list(shard)
        #expect(!files.contains("dedup.ids") && files.contains("ids-0000000000000000.dedup"), "\(files)")
    }
}
