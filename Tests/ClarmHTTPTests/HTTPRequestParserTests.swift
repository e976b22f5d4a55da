import Testing
import ClarmTestSupport
@testable import ClarmHTTP

/// What a parse ended with, in a form that compares across feeding strategies.
struct ParsedHead: Equatable {
    var result: HTTPParseResult
    var method: HTTPMethod = .other
    var path = ""
    var query: String? = nil
    var minorVersion = 1
    var headers: [String] = []
    var framing: HTTPBodyFraming = .none
    var keepAlive = true
    var expectsContinue = false
}

func snapshot(_ parser: HTTPRequestParser, _ result: HTTPParseResult, _ bytes: [UInt8]) -> ParsedHead {
    guard case .complete = result else { return ParsedHead(result: result) }
    let head = parser.head
    func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
    return ParsedHead(
        result: result, method: head.method, path: text(head.path), query: head.query.map(text),
        minorVersion: head.minorVersion, headers: head.headers.map { "\(text($0.name)): \(text($0.value))" },
        framing: head.framing, keepAlive: head.keepAlive, expectsContinue: head.expectsContinue)
}

/// Feeds `bytes` growing by the given cut points, as a connection does, and returns the final outcome.
func parse(_ bytes: [UInt8], cuts: [Int], limits: HTTPLimits = HTTPLimits()) -> ParsedHead {
    var parser = HTTPRequestParser(limits: limits)
    var result = HTTPParseResult.partial
    for end in cuts + [bytes.count] {
        result = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        if result != .partial { break }
    }
    return snapshot(parser, result, bytes)
}

/// The outcome at once, byte by byte, and at every two-piece split must all agree.
func parseEveryWay(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ParsedHead {
    let bytes = Array(text.utf8)
    let whole = parse(bytes, cuts: [], limits: limits)
    #expect(parse(bytes, cuts: Array(0..<bytes.count), limits: limits) == whole, "byte by byte differs for \(text.debugDescription)")
    for split in 0...bytes.count {
        let piecewise = parse(bytes, cuts: [split], limits: limits)
        #expect(piecewise == whole, "split at \(split) differs for \(text.debugDescription)")
        if piecewise != whole { break }
    }
    return whole
}

@Suite struct HTTPRequestParserTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let request: String
        let method: HTTPMethod
        let path: String
        var query: String? = nil
        var headerCount = 1
        var framing: HTTPBodyFraming = .none
        var keepAlive = true
        var minorVersion = 1
        var testDescription: String { request.debugDescription }
    }

    static let valid: [Valid] = [
        Valid(request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", method: .get, path: "/"),
        Valid(request: "GET /healthz?x=1&y HTTP/1.1\r\nHost: a\r\n\r\n", method: .get, path: "/healthz", query: "x=1&y"),
        Valid(request: "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", method: .get, path: "/a", query: ""),
        Valid(request: "POST /api/track HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", method: .post, path: "/api/track",
              headerCount: 2, framing: .contentLength(12)),
        Valid(request: "POST /api/track HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", method: .post, path: "/api/track",
              headerCount: 2),
        Valid(request: "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", method: .post, path: "/t",
              headerCount: 2, framing: .chunked),
        Valid(request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", method: .get, path: "/", headerCount: 2, keepAlive: false),
        Valid(request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", method: .get, path: "/", headerCount: 2, keepAlive: false),
        Valid(request: "GET / HTTP/1.0\r\n\r\n", method: .get, path: "/", headerCount: 0, keepAlive: false, minorVersion: 0),
        Valid(request: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", method: .get, path: "/", headerCount: 1, keepAlive: true, minorVersion: 0),
        Valid(request: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", method: .get, path: "/"),
        Valid(request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: .options, path: "*"),
        Valid(request: "GET http://example.com/api/track?q HTTP/1.1\r\nHost: example.com\r\n\r\n", method: .get, path: "/api/track", query: "q"),
        Valid(request: "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", method: .get, path: ""),
        Valid(request: "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", method: .other, path: "/x"),
        Valid(request: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces: \t v a l \t \r\n\r\n", method: .get, path: "/", headerCount: 3),
        Valid(request: "GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\u{e9}\r\n\r\n", method: .get, path: "/", headerCount: 2),
        Valid(request: "GET / HTTP/1.9\r\nHost: a\r\n\r\n", method: .get, path: "/", minorVersion: 9),
    ]

    @Test(arguments: valid)
    func parsesValidRequests(_ case_: Valid) {
        let parsed = parseEveryWay(case_.request)
        #expect(parsed.result == .complete(case_.request.utf8.count))
        #expect(parsed.method == case_.method)
        #expect(parsed.path == case_.path)
        #expect(parsed.query == case_.query)
        #expect(parsed.headers.count == case_.headerCount)
        #expect(parsed.framing == case_.framing)
        #expect(parsed.keepAlive == case_.keepAlive)
        #expect(parsed.minorVersion == case_.minorVersion)
    }

    @Test func headerValuesAreTrimmedAndInOrder() {
        let parsed = parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces: \t v a l \t \r\n\r\n")
        #expect(parsed.headers == ["Host: a", "X-Empty: ", "X-Spaces: v a l"])
    }

    @Test func stopsAtTheEndOfTheHead() {
        // Pipelined bytes after the head are not the parser's business.
        let parsed = parse(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n".utf8), cuts: [])
        #expect(parsed.result == .complete(27))
    }

    @Test func partialHeadsAskForMore() {
        for text in ["", "G", "GET", "GET /", "GET / HTTP/1.", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"] {
            #expect(parse(Array(text.utf8), cuts: []).result == .partial, "\(text.debugDescription)")
        }
    }

    @Test func expectContinue() {
        let parsed = parseEveryWay("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n")
        #expect(parsed.expectsContinue)
        #expect(parseEveryWay("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").expectsContinue == false)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        let request: String
        let error: HTTPParseError
        var testDescription: String { request.debugDescription }
    }

    static let invalid: [Invalid] = [
        // request line
        Invalid(request: " GET / HTTP/1.1\r\n", error: .badMethod),
        Invalid(request: "GET  / HTTP/1.1\r\n", error: .badRequestTarget),
        Invalid(request: "G(T / HTTP/1.1\r\n", error: .badMethod),
        Invalid(request: "GET\t/ HTTP/1.1\r\n", error: .badMethod),
        Invalid(request: "GET /a b HTTP/1.1\r\n", error: .badVersion),
        Invalid(request: "GET /\u{e9} HTTP/1.1\r\n", error: .badRequestTarget),
        Invalid(request: "GET /\u{7f} HTTP/1.1\r\n", error: .badRequestTarget),
        Invalid(request: "GET / HTTP/1.1 \r\n", error: .badVersion),
        Invalid(request: "GET / http/1.1\r\n", error: .badVersion),
        Invalid(request: "GET / HTTP/11\r\n", error: .badVersion),
        Invalid(request: "GET / HTTP/2.0\r\n", error: .unsupportedVersion),
        Invalid(request: "GET / HTTP/0.9\r\n", error: .unsupportedVersion),
        Invalid(request: "GET / HTTP/1.1\n", error: .badVersion),
        Invalid(request: "GET / HTTP/1.1\r\r", error: .badLineEnding),
        Invalid(request: "\n", error: .badMethod),
        Invalid(request: "\r\r", error: .badLineEnding),
        Invalid(request: "GET x HTTP/1.1\r\nHost: a\r\n\r\n", error: .badRequestTarget),
        Invalid(request: "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", error: .badRequestTarget),
        Invalid(request: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", error: .badRequestTarget),
        Invalid(request: "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", error: .badRequestTarget),
        // header fields
        Invalid(request: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", error: .whitespaceBeforeColon),
        Invalid(request: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", error: .whitespaceBeforeColon),
        Invalid(request: "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", error: .badHeaderName),
        Invalid(request: "GET / HTTP/1.1\r\nHo\u{1}st: a\r\n\r\n", error: .badHeaderName),
        Invalid(request: "GET / HTTP/1.1\r\n: a\r\n\r\n", error: .badHeaderName),
        Invalid(request: "GET / HTTP/1.1\r\nHost a\r\n\r\n", error: .whitespaceBeforeColon),
        Invalid(request: "GET / HTTP/1.1\r\nHost\r\n\r\n", error: .badHeaderName),
        Invalid(request: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", error: .badHeaderName),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", error: .obsoleteLineFolding),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n", error: .badHeaderValue),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\u{7f}\r\n\r\n", error: .badHeaderValue),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", error: .badLineEnding),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", error: .badLineEnding),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\r\n\n", error: .badLineEnding),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\r\n\r\r", error: .badLineEnding),
        // semantics
        Invalid(request: "GET / HTTP/1.1\r\n\r\n", error: .missingHost),
        Invalid(request: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", error: .duplicateHost),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", error: .duplicateContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", error: .badContentLength),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", error: .bodyTooLarge),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", error: .bodyTooLarge),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", error: .contentLengthWithTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", error: .contentLengthWithTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", error: .unsupportedTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", error: .unsupportedTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", error: .unsupportedTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", error: .unsupportedTransferEncoding),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", error: .unsupportedTransferEncoding),
        Invalid(request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", error: .transferEncodingInHTTP10),
        Invalid(request: "POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", error: .unsupportedExpectation),
        // binary garbage, such as a TLS ClientHello sent to a plain port
        Invalid(request: "\u{16}\u{3}\u{1}\u{0}", error: .badMethod),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidRequests(_ case_: Invalid) {
        let parsed = parseEveryWay(case_.request)
        #expect(parsed.result == .failure(case_.error))
    }

    @Test func errorsMapToStatuses() {
        #expect(HTTPParseError.requestLineTooLong.status.code == 414)
        #expect(HTTPParseError.headerSectionTooLarge.status.code == 431)
        #expect(HTTPParseError.tooManyHeaderFields.status.code == 431)
        #expect(HTTPParseError.bodyTooLarge.status.code == 413)
        #expect(HTTPParseError.unsupportedVersion.status.code == 505)
        #expect(HTTPParseError.whitespaceBeforeColon.status.code == 400)
    }

    @Test func requestLineLimit() {
        let limits = HTTPLimits()
        let prefix = "GET /"
        let suffix = " HTTP/1.1"
        let fits = String(repeating: "a", count: limits.maxRequestLine - prefix.count - suffix.count)
        #expect(parse(Array("\(prefix)\(fits)\(suffix)\r\nHost: a\r\n\r\n".utf8), cuts: []).result != .failure(.requestLineTooLong))
        let long = "\(prefix)\(fits)a\(suffix)\r\nHost: a\r\n\r\n"
        #expect(parse(Array(long.utf8), cuts: []).result == .failure(.requestLineTooLong))
        // Without ever seeing the end of the line, the limit still ends it.
        let endless = Array("GET /".utf8) + Array(repeating: UInt8(ascii: "a"), count: limits.maxRequestLine)
        #expect(parse(endless, cuts: [100, 5000]).result == .failure(.requestLineTooLong))
    }

    @Test func requestLineLimitSameAtEverySplit() {
        var limits = HTTPLimits()
        limits.maxRequestLine = 32
        for text in ["GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\nHost: a\r\n\r\n",
                     "GET /" + String(repeating: "a", count: 30) + "\u{1} HTTP/1.1\r\n\r\n",
                     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"] {
            let result = parseEveryWay(text, limits: limits).result
            #expect(result == .failure(.requestLineTooLong))
        }
        #expect(parseEveryWay("GET /aaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).result != .failure(.requestLineTooLong))
    }

    @Test func headerSectionLimit() {
        let limits = HTTPLimits()
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: limits.maxHeaderSection) + "\r\n\r\n"
        #expect(parse(Array(big.utf8), cuts: []).result == .failure(.headerSectionTooLarge))
        #expect(parse(Array(big.utf8), cuts: [1000, 9000]).result == .failure(.headerSectionTooLarge))
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: limits.maxHeaderFields) + "\r\n"
        #expect(parse(Array(many.utf8), cuts: []).result == .failure(.tooManyHeaderFields))
        let justEnough = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: y\r\n", count: limits.maxHeaderFields - 1) + "\r\n"
        #expect(parse(Array(justEnough.utf8), cuts: []).result == .complete(justEnough.utf8.count))
    }

    @Test func headerSectionLimitSameAtEverySplit() {
        var limits = HTTPLimits()
        limits.maxHeaderSection = 24
        let result = parseEveryWay("GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\n", limits: limits).result
        #expect(result == .failure(.headerSectionTooLarge))
    }

    @Test func resetKeepsWorking() {
        var parser = HTTPRequestParser()
        let first = Array("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n".utf8)
        let second = Array("GET /b HTTP/1.1\r\nHost: b\r\n\r\n".utf8)
        #expect(first.withUnsafeBytes { parser.parse($0) } == .complete(first.count))
        parser.reset()
        #expect(second.withUnsafeBytes { parser.parse($0) } == .complete(second.count))
        #expect(parser.head.framing == .none)
        #expect(parser.head.method == .get)
        #expect(parser.head.headers.count == 1)
    }

    @Test func neverCrashesOnRandomBytes() {
        var generator = SplitMix64(seed: 0xC1A2)
        let alphabet = Array("GET POST / HTTP/1.1\r\n:Host-Length Transfer-Encoding chunked 0123456789 \t\u{0}\u{7f}".utf8) + [0x80, 0xFF]
        for _ in 0..<3000 {
            let count = Int(generator.next() % 120)
            let bytes = (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let whole = parse(bytes, cuts: [])
            let cut = count == 0 ? 0 : Int(generator.next() % UInt64(count))
            #expect(parse(bytes, cuts: [cut]) == whole)
        }
    }
}
