import Testing
import ClarmTestSupport
@testable import ClarmHTTP

/// Decodes `wire` in place, growing the visible bytes by the cut points, and returns the outcome and body.
func decodeChunked(_ wire: [UInt8], cuts: [Int], limits: HTTPLimits = HTTPLimits()) -> (HTTPParseResult, [UInt8]) {
    var buffer = wire
    var decoder = HTTPChunkedDecoder(limits: limits)
    var result = HTTPParseResult.partial
    for end in cuts + [wire.count] {
        result = buffer.withUnsafeMutableBytes { decoder.decode(UnsafeMutableRawBufferPointer(rebasing: $0[0..<end])) }
        if result != .partial { break }
    }
    return (result, Array(buffer[0..<decoder.decodedCount]))
}

func decodeChunkedEveryWay(_ text: String, limits: HTTPLimits = HTTPLimits()) -> (HTTPParseResult, [UInt8]) {
    let wire = Array(text.utf8)
    let whole = decodeChunked(wire, cuts: [], limits: limits)
    let byByte = decodeChunked(wire, cuts: Array(0..<wire.count), limits: limits)
    #expect(byByte.0 == whole.0 && byByte.1 == whole.1, "byte by byte differs for \(text.debugDescription)")
    for split in 0...wire.count {
        let piecewise = decodeChunked(wire, cuts: [split], limits: limits)
        #expect(piecewise.0 == whole.0, "split at \(split) differs for \(text.debugDescription)")
        if case .complete = whole.0 { #expect(piecewise.1 == whole.1) }
    }
    return whole
}

@Suite struct HTTPChunkedDecoderTests {
    static let valid: [(wire: String, body: String)] = [
        ("0\r\n\r\n", ""),
        ("5\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
        ("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("a\r\n0123456789\r\n000\r\n\r\n", "0123456789"),
        ("0005\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"),
        ("5 ;ext\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5;q=\"quoted ; value\"\r\nhello\r\n0\r\n\r\n", "hello"),
        ("5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Other: 1\r\n\r\n", "hello"),
        ("3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"),
    ]

    @Test(arguments: valid)
    func decodesValidBodies(_ wire: String, _ body: String) {
        let (result, decoded) = decodeChunkedEveryWay(wire)
        #expect(result == .complete(wire.utf8.count))
        #expect(decoded == Array(body.utf8))
    }

    @Test func leavesPipelinedBytesAlone() {
        let wire = Array("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n".utf8)
        let (result, body) = decodeChunked(wire, cuts: [])
        #expect(result == .complete(15))
        #expect(body == Array("hello".utf8))
    }

    static let invalid: [(wire: String, error: HTTPParseError)] = [
        ("\r\n", .badChunkSize),
        ("x\r\n", .badChunkSize),
        ("-1\r\n", .badChunkSize),
        ("5\nhello", .badChunkSize),
        ("5\r\rhello", .badLineEnding),
        ("5 x\r\n", .badChunkExtension),
        ("5;a\u{1}b\r\n", .badChunkExtension),
        ("5\r\nhelloX\r\n", .missingChunkTerminator),
        ("5\r\nhello\rX", .missingChunkTerminator),
        ("5\r\nhello\n", .missingChunkTerminator),
        ("0\r\nBad Trailer: x\r\n\r\n", .badTrailer),
        ("0\r\nX: a\u{0}\r\n\r\n", .badTrailer),
        ("0\r\n\r\r", .badLineEnding),
        ("0\r\nX: 1\r\r", .badLineEnding),
        ("100001\r\n", .bodyTooLarge),
        ("FFFFFFFFFFFFFFFFFFFFFFFF\r\n", .bodyTooLarge),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidBodies(_ wire: String, _ error: HTTPParseError) {
        #expect(decodeChunkedEveryWay(wire).0 == .failure(error))
    }

    @Test func bodyLimitCountsAllChunks() {
        var limits = HTTPLimits()
        limits.maxBody = 8
        #expect(decodeChunkedEveryWay("4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", limits: limits).0 == .complete(23))
        #expect(decodeChunkedEveryWay("4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n", limits: limits).0 == .failure(.bodyTooLarge))
    }

    @Test func framingLimitStopsTinyChunks() {
        var limits = HTTPLimits()
        limits.maxChunkFraming = 64
        let wire = String(repeating: "1\r\na\r\n", count: 40) + "0\r\n\r\n"
        #expect(decodeChunked(Array(wire.utf8), cuts: []).0 == .complete(wire.utf8.count))
        #expect(decodeChunkedEveryWay(wire, limits: limits).0 == .failure(.chunkFramingTooLarge))
        let zeros = String(repeating: "0", count: 100) + "5\r\nhello\r\n0\r\n\r\n"
        #expect(decodeChunked(Array(zeros.utf8), cuts: [], limits: limits).0 == .failure(.chunkFramingTooLarge))
    }

    @Test func neverCrashesOnRandomBytes() {
        var generator = SplitMix64(seed: 7)
        let alphabet = Array("0123456789abcdefABCDEF;= \t\r\n:xX".utf8) + [0, 0x7F, 0xFF]
        for _ in 0..<3000 {
            let count = Int(generator.next() % 64)
            let wire = (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let whole = decodeChunked(wire, cuts: [])
            let cut = count == 0 ? 0 : Int(generator.next() % UInt64(count))
            let split = decodeChunked(wire, cuts: [cut])
            #expect(split.0 == whole.0)
        }
    }
}
