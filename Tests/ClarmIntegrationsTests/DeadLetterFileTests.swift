import Glibc
import Testing
@testable import ClarmIntegrations
import ClarmStorage
import ClarmSystem
import ClarmTestSupport

/// `dead-letters/<id>.log`: kept across a restart, bounded, and whole up to a write a crash cut short.
@Suite struct DeadLetterFileTests {
    func open(_ directory: TemporaryDirectory, maxLetters: Int = 100, maxBytes: Int = 1 << 20) throws -> DeadLetterFile {
        try DeadLetterFile(directory: directory.path, destination: "d1", maxLetters: maxLetters, maxBytes: maxBytes)
    }

    func add(_ file: inout DeadLetterFile, _ n: Int) throws {
        let dropFailed = try file.add(id: "msg_\(n)", url: "https://hooks.example.com/\(n)", events: n, error: "HTTP 500",
                                      milliseconds: Int64(n), body: Array("{\"n\":\(n)}".utf8),
                                      visitors: [ErasureSet.Tombstone(site: Array("shop.example.com".utf8), visitor: Array("v-\(n)".utf8))])
        #expect(dropFailed == nil)
    }

    @Test func lettersAndRemovalsSurviveARestart() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            var file = try open(directory)
            for n in 1...5 { try add(&file, n) }
            try file.remove(file.letters[1].seq)
        }
        let path = DeadLetterFile.path(directory: directory.path, destination: "d1")
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        var reopened = try open(directory)
        #expect(reopened.letters.map(\.id) == ["msg_1", "msg_3", "msg_4", "msg_5"])
        #expect(reopened.letters.map(\.body) == [1, 3, 4, 5].map { Array("{\"n\":\($0)}".utf8) })
        #expect(reopened.letters.map(\.url).last == "https://hooks.example.com/5")
        // New letters are numbered after the ones kept.
        try add(&reopened, 6)
        #expect(reopened.letters.last!.seq > reopened.letters[reopened.letters.count - 2].seq)
    }

    @Test func pastTheBoundTheOldestAreDroppedAndCounted() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            var file = try open(directory, maxLetters: 3)
            for n in 1...7 { try add(&file, n) }
            #expect(file.letters.map(\.id) == ["msg_5", "msg_6", "msg_7"])
            #expect(file.dropped == 4)
        }
        #expect(try open(directory, maxLetters: 3).letters.map(\.id) == ["msg_5", "msg_6", "msg_7"])
        // The byte bound too: each body here is 7 bytes.
        var smaller = try open(directory, maxLetters: 3, maxBytes: 14)
        #expect(smaller.letters.map(\.id) == ["msg_6", "msg_7"] && smaller.dropped == 1)
        try add(&smaller, 8)
        #expect(smaller.letters.map(\.id) == ["msg_7", "msg_8"] && smaller.dropped == 2)
    }

    /// Removals past half of a file over 64 KiB rewrite it with the live letters only.
    @Test func removalsAreCompactedAway() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = DeadLetterFile.path(directory: directory.path, destination: "d1")
        func size() -> Int {
            var info = stat()
            return stat(path, &info) == 0 ? Int(info.st_size) : -1
        }
        do {
            var file = try open(directory)
            for n in 0..<100 {
                _ = try file.add(id: "msg_\(n)", url: "https://hooks.example.com/", events: 1, error: "HTTP 500", milliseconds: 0,
                                 body: [UInt8](repeating: UInt8(n), count: 1_000), visitors: [])
            }
            let full = size()
            #expect(full > 100_000)
            for letter in file.letters.prefix(80) { try file.remove(letter.seq) }
            #expect(size() < full * 6 / 10)   // without compaction it only grows
            #expect(file.letters.count == 20)
        }
        let reopened = try open(directory)
        #expect(reopened.letters.map(\.id) == (80..<100).map { "msg_\($0)" })
        #expect(reopened.letters.last!.body == [UInt8](repeating: 99, count: 1_000))
    }

    /// A crash in the middle of a write leaves part of a record at the end: the letters before it are kept, the
    /// torn record is cut off, and letters added after the restart are not lost behind it.
    @Test func aTornLastRecordIsCutOff() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            var file = try open(directory)
            for n in 1...3 { try add(&file, n) }
        }
        let path = DeadLetterFile.path(directory: directory.path, destination: "d1")
        var info = stat()
        _ = stat(path, &info)
        let whole = Int(info.st_size)
        #expect(truncate(path, off_t(whole - 5)) == 0)
        do {
            var file = try open(directory)
            #expect(file.letters.map(\.id) == ["msg_1", "msg_2"])
            try add(&file, 4)
        }
        // Garbage after the last record (a length and CRC that do not match) is cut off too.
        let fd = Glibc.open(path, O_WRONLY | O_APPEND)
        _ = [UInt8](repeating: 0xAB, count: 40).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(try open(directory).letters.map(\.id) == ["msg_1", "msg_2", "msg_4"])
    }

    /// An erasure drops the letters holding the visitor's events, and the file keeps no byte of it; a letter
    /// written before letters kept their visitors (type 1) is found by its body.
    @Test func anErasureLeavesNoByteOfTheVisitorInTheFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = DeadLetterFile.path(directory: directory.path, destination: "d1")
        let site = Array("shop.example.com".utf8)
        func visitor(_ id: String) -> ErasureSet.Tombstone { ErasureSet.Tombstone(site: site, visitor: Array(id.utf8)) }
        func body(_ id: String) -> [UInt8] { Array(#"{"visitor_id":"\#(id)","properties":{"email":"\#(id)@example.com"}}"#.utf8) }
        func contents() -> [UInt8] { (try? PosixFileSystem().readAll(path)) ?? [] }
        do {
            var file = try open(directory)
            _ = try file.add(id: "msg_1", url: "https://hooks.example.com/", events: 1, error: "HTTP 500", milliseconds: 1,
                             body: body("erased-visitor-1"), visitors: [visitor("erased-visitor-1")])
            _ = try file.add(id: "msg_2", url: "https://hooks.example.com/", events: 1, error: "HTTP 500", milliseconds: 2,
                             body: body("kept-visitor"), visitors: [visitor("kept-visitor")])
            file.queued.insert(file.letters[0].seq)
            #expect(contents().contains(Array("erased-visitor-1".utf8)))
            #expect(try file.erase([visitor("erased-visitor-1")]) == 1)
            #expect(file.letters.map(\.id) == ["msg_2"] && file.queued.isEmpty)
            #expect(!contents().contains(Array("erased-visitor-1".utf8)))
            // The same visitor on another site is someone else.
            #expect(try file.erase([ErasureSet.Tombstone(site: Array("other.example.com".utf8), visitor: Array("kept-visitor".utf8))]) == 0)
        }
        // A type 1 record (no visitors) of another visitor, appended as an older gateway wrote it.
        let legacy = DeadLetter(seq: 9, id: "msg_9", url: "https://hooks.example.com/", events: 1, error: "HTTP 500",
                                milliseconds: 9, body: body("erased-visitor-2"), visitors: [])
        var payload = DeadLetterFile.encode(legacy)
        payload[0] = 1
        payload.removeLast(4)   // type 1 ends at the body: no visitor count
        let fd = Glibc.open(path, O_WRONLY | O_APPEND)
        _ = DeadLetterFile.frame(payload).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        var reopened = try open(directory)
        #expect(reopened.letters.map(\.id) == ["msg_2", "msg_9"] && reopened.letters[1].visitors.isEmpty)
        #expect(try reopened.erase([visitor("erased-visitor-2")]) == 1)
        #expect(!contents().contains(Array("erased-visitor-2".utf8)))
        #expect(try open(directory).letters.map(\.id) == ["msg_2"])
        #expect(try open(directory).letters[0].visitors == [visitor("kept-visitor")])
    }
}
