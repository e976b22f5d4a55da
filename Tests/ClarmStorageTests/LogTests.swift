import Testing
@testable import ClarmStorage
import ClarmTestSupport

/// Writes `records` through a real LogWriter into a file and returns the file's bytes.
func logImage(_ records: [[UInt8]]) throws -> [UInt8] {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let fs = PosixFileSystem()
    let writer = LogWriter(file: try fs.create(directory.path + "/wal.log"))
    for record in records { record.withUnsafeBytes { writer.add($0) } }
    try writer.write()
    writer.close()
    return try fs.readAll(directory.path + "/wal.log")
}

func readLog(_ bytes: [UInt8]) -> (records: [[UInt8]], end: LogReader.End?) {
    var reader = LogReader(bytes: bytes, path: "wal.log")
    var records: [[UInt8]] = []
    while let record = reader.next() { records.append(record) }
    return (records, reader.end)
}

func record(_ size: Int, seed: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) }
}

@Suite struct LogTests {
    @Test func crc32cKnownValues() {
        // RFC 3720 B.4 test vectors.
        #expect([UInt8](repeating: 0, count: 32).withUnsafeBytes { CRC32C.checksum($0) } == 0x8A91_36AA)
        #expect([UInt8](repeating: 0xFF, count: 32).withUnsafeBytes { CRC32C.checksum($0) } == 0x62A8_AB43)
        #expect(Array(0..<32 as Range<UInt8>).withUnsafeBytes { CRC32C.checksum($0) } == 0x46DD_794E)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        for value: UInt32 in [0, 1, 0xDEAD_BEEF, .max] { #expect(CRC32C.unmask(CRC32C.mask(value)) == value) }
    }

    @Test func roundTripsRecordsOfEverySize() throws {
        let records = [0, 1, 7, 100, LogFormat.blockSize - 7, LogFormat.blockSize, 3 * LogFormat.blockSize + 5, 0, 12]
            .enumerated().map { record($1, seed: $0) }
        let (read, end) = readLog(try logImage(records))
        #expect(read == records)
        #expect(end == .clean)
    }

    /// Records sized so that every block trailer from 0 to 7 bytes occurs.
    @Test func everyTrailerSize() throws {
        for trailer in 0...(LogFormat.headerSize + 1) {
            let first = record(LogFormat.blockSize - LogFormat.headerSize - trailer, seed: trailer)
            let records = [first, record(10, seed: 1), record(LogFormat.blockSize, seed: 2)]
            let (read, end) = readLog(try logImage(records))
            #expect(read == records, "trailer \(trailer)")
            #expect(end == .clean)
        }
    }

    @Test func truncationAtEveryByteOfTheLastRecord() throws {
        for lastSize in [20, LogFormat.blockSize + 100] {
            let records = [record(50, seed: 1), record(LogFormat.blockSize - 30, seed: 2), record(lastSize, seed: 3)]
            let image = try logImage(records)
            let withoutLast = try logImage(Array(records.dropLast()))
            // Every byte of a short last record; for one spanning blocks, every byte near its fragment
            // boundaries and a stride through the payload between them.
            let cuts = (withoutLast.count..<image.count).filter { cut in
                lastSize < 100 || cut % 61 == 0 || (cut % LogFormat.blockSize) < 24 || (cut - withoutLast.count) < 24
                    || LogFormat.blockSize - cut % LogFormat.blockSize < 24 || image.count - cut < 24
            }
            for cut in cuts {
                let (read, end) = readLog(Array(image[0..<cut]))
                #expect(read == Array(records.dropLast()), "cut at \(cut)")
                if cut == withoutLast.count {
                    #expect(end == .clean)
                } else {
                    guard case .tornTail = end else {
                        Issue.record("cut at \(cut): \(String(describing: end))")
                        continue
                    }
                }
            }
        }
    }

    @Test func flippedBitInAMiddleRecordIsCorruption() throws {
        let records = (0..<5).map { record(1000, seed: $0) }
        let image = try logImage(records)
        for bit in [0, 13, 7 * 8 + 3, 2 * 1007 * 8 + 100] {
            var damaged = image
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            let (read, end) = readLog(damaged)
            let damagedRecord = bit / 8 / 1007
            #expect(read == Array(records[0..<damagedRecord]), "bit \(bit)")
            guard case .corruption(let report)? = end else {
                Issue.record("bit \(bit): \(String(describing: end))")
                continue
            }
            #expect(report.offset == damagedRecord * 1007)
            #expect(report.path == "wal.log")
        }
    }

    @Test func corruptedLengthFieldIsCorruption() throws {
        let records = (0..<4).map { record(100, seed: $0) }
        var image = try logImage(records)
        image[107 + 4] = 0xFF  // the second fragment's length, low byte
        let (read, end) = readLog(image)
        #expect(read == [records[0]])
        guard case .corruption = end else {
            Issue.record("\(String(describing: end))")
            return
        }
    }

    @Test func zeroFilledTailIsTheEnd() throws {
        let records = (0..<3).map { record(500, seed: $0) }
        for zeros in [1, 6, 7, 100, 40_000] {
            let (read, end) = readLog(try logImage(records) + [UInt8](repeating: 0, count: zeros))
            #expect(read == records)
            #expect(end == .clean)
        }
    }

    @Test func outOfSequenceFragmentsAreCorruption() throws {
        // A FIRST fragment followed by a FULL one: the first record never ended.
        var image = try logImage([record(LogFormat.blockSize * 2, seed: 1)])
        let full = try logImage([record(10, seed: 2)])
        image = Array(image[0..<LogFormat.blockSize]) + full
        let (read, end) = readLog(image)
        #expect(read.isEmpty)
        guard case .corruption = end else {
            Issue.record("\(String(describing: end))")
            return
        }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var bytes = [UInt8](repeating: 0, count: Int.random(in: 0...70_000, using: &generator))
            bytes.withUnsafeMutableBytes { raw in
                for i in stride(from: 0, to: raw.count - 7, by: 8) { raw.storeBytes(of: generator.next() as UInt64, toByteOffset: i, as: UInt64.self) }
            }
            _ = readLog(bytes)
        }
    }
}
