import Testing
@testable import ClarmStorage

@Suite struct LZ4Tests {
    @Test(arguments: [0, 1, 17, 4096, 100_000])
    func roundTrips(_ count: Int) throws {
        let source = (0..<count).map { UInt8(truncatingIfNeeded: $0 % 251 ^ ($0 >> 7)) }
        var block: [UInt8] = []
        source.withUnsafeBytes { LZ4.compress($0, appendingTo: &block) }
        var decoded = [UInt8](repeating: 0, count: count)
        try block.withUnsafeBytes { raw in
            try decoded.withUnsafeMutableBytes { try LZ4.decompress(raw, decodedCount: count, into: $0) }
        }
        #expect(decoded == source)
    }

    @Test func compressesRepetitiveData() {
        let source = [UInt8](repeating: 0x61, count: 64 * 1024)
        var block: [UInt8] = []
        source.withUnsafeBytes { LZ4.compress($0, appendingTo: &block) }
        #expect(block.count < 1024)
    }

    @Test func detectsCorruptBlocks() {
        let source = Array("page_view page_view page_view https://shop.example.com/checkout".utf8)
        var block: [UInt8] = []
        source.withUnsafeBytes { LZ4.compress($0, appendingTo: &block) }
        var output = [UInt8](repeating: 0, count: source.count)
        // Truncated block, wrong declared size, and random garbage must all fail without touching memory outside `output`.
        let truncated = Array(block.dropLast(3))
        #expect(throws: LZ4.CorruptBlock.self) {
            try truncated.withUnsafeBytes { raw in try output.withUnsafeMutableBytes { try LZ4.decompress(raw, decodedCount: source.count, into: $0) } }
        }
        #expect(throws: LZ4.CorruptBlock.self) {
            try block.withUnsafeBytes { raw in try output.withUnsafeMutableBytes { try LZ4.decompress(raw, decodedCount: source.count - 1, into: $0) } }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let garbage = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? garbage.withUnsafeBytes { raw in try output.withUnsafeMutableBytes { try LZ4.decompress(raw, decodedCount: source.count, into: $0) } }
        }
    }
}

