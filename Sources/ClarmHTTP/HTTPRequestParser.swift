private let cr: UInt8 = 0x0D
private let lf: UInt8 = 0x0A
private let sp: UInt8 = 0x20
private let htab: UInt8 = 0x09

/// What a parse step found: the whole element (and how many bytes it took), not enough bytes yet, or an error.
public enum HTTPParseResult: Sendable, Equatable {
    case complete(Int)
    case partial
    case failure(HTTPParseError)
}

/// A resumable, allocation-free parser of one HTTP/1.1 request head (RFC 9112 §2–§7).
///
/// Feed it the bytes of a request from its first byte; when it answers `.partial`, call it again with the
/// same bytes extended by more. It scans every byte once, so the result does not depend on how the
/// bytes were split across calls. Header fields go into `head.headers`, whose storage is reused.
public struct HTTPRequestParser: Sendable {
    public private(set) var head = HTTPRequestHead()
    public let limits: HTTPLimits

    private enum State {
        case leadingLine, leadingLF
        case method, target, version, requestLineLF
        case fieldStart, fieldName, fieldValueStart, fieldValue, fieldLF
        case endLF
    }

    private var state = State.leadingLine
    private var position = 0
    private var mark = 0
    private var valueEnd = 0
    private var fieldName = 0..<0
    private var lineStart = 0
    private var headerSectionStart = 0

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets the current request and keeps the header storage, ready for the next request.
    public mutating func reset() {
        head.reset()
        state = .leadingLine
        position = 0
        mark = 0
        valueEnd = 0
        fieldName = 0..<0
        lineStart = 0
        headerSectionStart = 0
    }

    /// Continues parsing the head in `bytes`, which must start at the request's first byte and repeat any
    /// bytes given to earlier calls; returns `.complete(headLength)`, `.partial` or `.failure`.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPParseResult {
        let n = bytes.count
        var p = position
        defer { position = p }
        while p < n {
            let c = bytes[p]
            switch state {
            case .leadingLine:
                if p >= limits.maxRequestLine { return .failure(.requestLineTooLong) }
                if c == cr {
                    state = .leadingLF
                    p += 1
                } else {
                    lineStart = p
                    mark = p
                    state = .method
                }
            case .leadingLF:
                guard c == lf else { return .failure(.badLineEnding) }
                state = .leadingLine
                p += 1

            case .method:
                if p - lineStart >= limits.maxRequestLine { return .failure(.requestLineTooLong) }
                if ByteClass.isToken(c) {
                    p += 1
                    continue
                }
                guard c == sp, p > mark else { return .failure(.badMethod) }
                head.methodRange = mark..<p
                head.method = HTTPMethod(UnsafeRawBufferPointer(rebasing: bytes[mark..<p]))
                p += 1
                mark = p
                state = .target
            case .target:
                // Bounded so that a target past the limit fails as 414 however the bytes were split.
                let end = min(n, lineStart + limits.maxRequestLine)
                while p < end, ByteClass.isTargetByte(bytes[p]) { p += 1 }
                if p == n { break }
                if p == end { return .failure(.requestLineTooLong) }
                guard bytes[p] == sp, p > mark else { return .failure(.badRequestTarget) }
                head.target = mark..<p
                p += 1
                mark = p
                state = .version
            case .version:
                // "HTTP/" DIGIT "." DIGIT CR
                let i = p - mark
                if c != cr, p - lineStart >= limits.maxRequestLine { return .failure(.requestLineTooLong) }
                switch i {
                case 0..<5:
                    guard c == Self.httpSlash[i] else { return .failure(.badVersion) }
                case 5:
                    guard c &- 0x30 < 10 else { return .failure(.badVersion) }
                    if c != 0x31 { return .failure(.unsupportedVersion) }
                case 6:
                    guard c == 0x2E else { return .failure(.badVersion) }
                case 7:
                    guard c &- 0x30 < 10 else { return .failure(.badVersion) }
                    head.minorVersion = Int(c &- 0x30)
                default:
                    guard c == cr else { return .failure(.badVersion) }
                    state = .requestLineLF
                }
                p += 1
            case .requestLineLF:
                guard c == lf else { return .failure(.badLineEnding) }
                p += 1
                headerSectionStart = p
                state = .fieldStart

            case .fieldStart:
                if p - headerSectionStart >= limits.maxHeaderSection { return .failure(.headerSectionTooLarge) }
                if c == cr {
                    state = .endLF
                    p += 1
                } else if ByteClass.isToken(c) {
                    if head.headers.count == limits.maxHeaderFields { return .failure(.tooManyHeaderFields) }
                    mark = p
                    state = .fieldName
                    p += 1
                } else if c == sp || c == htab {
                    return .failure(head.headers.isEmpty ? .badHeaderName : .obsoleteLineFolding)
                } else {
                    return .failure(c == lf ? .badLineEnding : .badHeaderName)
                }
            case .fieldName:
                if p - headerSectionStart >= limits.maxHeaderSection { return .failure(.headerSectionTooLarge) }
                if ByteClass.isToken(c) {
                    p += 1
                    continue
                }
                if c == UInt8(ascii: ":") {
                    fieldName = mark..<p
                    p += 1
                    state = .fieldValueStart
                } else {
                    return .failure(c == sp || c == htab ? .whitespaceBeforeColon : .badHeaderName)
                }
            case .fieldValueStart:
                if c == sp || c == htab {
                    if p - headerSectionStart >= limits.maxHeaderSection { return .failure(.headerSectionTooLarge) }
                    p += 1
                } else {
                    mark = p
                    valueEnd = p
                    state = .fieldValue
                }
            case .fieldValue:
                let end = min(n, headerSectionStart + limits.maxHeaderSection)
                while p < end {
                    let v = bytes[p]
                    if v == cr { break }
                    guard ByteClass.isFieldValue(v) else { return .failure(v == lf ? .badLineEnding : .badHeaderValue) }
                    p += 1
                    if v != sp && v != htab { valueEnd = p }
                }
                if p == n { break }
                if p == end { return .failure(.headerSectionTooLarge) }
                head.headers.append(HTTPHeaderField(name: fieldName, value: mark..<valueEnd))
                state = .fieldLF
                p += 1
            case .fieldLF:
                guard c == lf else { return .failure(.badLineEnding) }
                p += 1
                state = .fieldStart
            case .endLF:
                guard c == lf else { return .failure(.badLineEnding) }
                p += 1
                head.length = p
                if let error = finishHead(bytes) { return .failure(error) }
                return .complete(p)
            }
        }
        return .partial
    }

    private static let httpSlash: [UInt8] = Array("HTTP/".utf8)

    /// Applies the semantic rules of RFC 9112 to a syntactically complete head.
    private mutating func finishHead(_ bytes: UnsafeRawBufferPointer) -> HTTPParseError? {
        if let error = parseTarget(bytes) { return error }
        var contentLength: Int? = nil
        var transferEncodings = 0
        var chunked = false
        var hosts = 0
        var close = false
        var keepAliveToken = false
        for field in head.headers {
            let value = UnsafeRawBufferPointer(rebasing: bytes[field.value])
            switch field.name.count {
            case 4 where HTTPRequestHead.nameEquals(field.name, "host", in: bytes):
                hosts += 1
            case 6 where HTTPRequestHead.nameEquals(field.name, "expect", in: bytes):
                guard Self.equalsIgnoringCase(value, "100-continue") else { return .unsupportedExpectation }
                head.expectsContinue = head.minorVersion >= 1
            case 10 where HTTPRequestHead.nameEquals(field.name, "connection", in: bytes):
                Self.forEachListElement(value) { token in
                    if Self.equalsIgnoringCase(token, "close") { close = true }
                    if Self.equalsIgnoringCase(token, "keep-alive") { keepAliveToken = true }
                }
            case 14 where HTTPRequestHead.nameEquals(field.name, "content-length", in: bytes):
                guard contentLength == nil else { return .duplicateContentLength }
                guard !value.isEmpty, value.allSatisfy({ $0 &- 0x30 < 10 }) else { return .badContentLength }
                var length = 0
                for digit in value {
                    length = length * 10 + Int(digit &- 0x30)
                    if length > limits.maxBody { return .bodyTooLarge }
                }
                contentLength = length
            case 17 where HTTPRequestHead.nameEquals(field.name, "transfer-encoding", in: bytes):
                transferEncodings += 1
                chunked = Self.equalsIgnoringCase(value, "chunked")
            default:
                break
            }
        }
        if transferEncodings > 0 {
            if head.minorVersion == 0 { return .transferEncodingInHTTP10 }
            if contentLength != nil { return .contentLengthWithTransferEncoding }
            guard transferEncodings == 1, chunked else { return .unsupportedTransferEncoding }
            head.framing = .chunked
        } else if let contentLength, contentLength > 0 {
            head.framing = .contentLength(contentLength)
        }
        if hosts > 1 { return .duplicateHost }
        if hosts == 0 && head.minorVersion >= 1 { return .missingHost }
        head.keepAlive = head.minorVersion >= 1 ? !close : (keepAliveToken && !close)
        return nil
    }

    /// Splits the target into path and query (RFC 9112 §3.2): origin-form, absolute-form, or `*` for OPTIONS.
    private mutating func parseTarget(_ bytes: UnsafeRawBufferPointer) -> HTTPParseError? {
        let target = head.target
        var pathStart = target.lowerBound
        switch bytes[target.lowerBound] {
        case UInt8(ascii: "/"):
            break
        case UInt8(ascii: "*"):
            guard target.count == 1, head.method == .options else { return .badRequestTarget }
            head.path = target
            return nil
        default:
            // absolute-form: scheme "://" authority [path]
            var i = target.lowerBound
            while i < target.upperBound, ByteClass.isSchemeByte(bytes[i]) { i += 1 }
            guard i > target.lowerBound, i + 3 <= target.upperBound,
                  bytes[i] == UInt8(ascii: ":"), bytes[i + 1] == UInt8(ascii: "/"), bytes[i + 2] == UInt8(ascii: "/")
            else { return .badRequestTarget }
            i += 3
            while i < target.upperBound, bytes[i] != UInt8(ascii: "/"), bytes[i] != UInt8(ascii: "?") { i += 1 }
            pathStart = i
        }
        var i = pathStart
        while i < target.upperBound, bytes[i] != UInt8(ascii: "?") {
            if bytes[i] == UInt8(ascii: "#") { return .badRequestTarget }
            i += 1
        }
        head.path = pathStart..<i
        if i < target.upperBound {
            let queryStart = i + 1
            if bytes[queryStart..<target.upperBound].contains(UInt8(ascii: "#")) { return .badRequestTarget }
            head.query = queryStart..<target.upperBound
        }
        return nil
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { literal in
            zip(bytes, literal).allSatisfy { ByteClass.lowercased($0) == $1 }
        }
    }

    /// Calls `body` with each non-empty element of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS.
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b, bytes[a] == sp || bytes[a] == htab { a += 1 }
            while b > a, bytes[b - 1] == sp || bytes[b - 1] == htab { b -= 1 }
            if b > a { body(UnsafeRawBufferPointer(rebasing: bytes[a..<b])) }
            start = end + 1
        }
    }
}
