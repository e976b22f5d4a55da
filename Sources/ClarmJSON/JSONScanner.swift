/// The kind of JSON value that starts at the scanner's position.
public enum JSONValueKind: Sendable, Equatable {
    case object, array, string, number, `true`, `false`, null
}

/// A string value as a range of the input, without its quotes; `hasEscapes` tells whether it must be unescaped.
public struct JSONString: Sendable, Equatable {
    public var range: Range<Int>
    public var hasEscapes: Bool
}

/// A strict RFC 8259 scanner over borrowed bytes that allocates nothing and never nests past `maxDepth`.
///
/// It moves forward only: callers walk a document with `valueKind`, `enterObject`/`nextMember`,
/// `enterArray`/`nextElement`, `string`, `number`, `literal` and `skipValue`; every call either consumes a
/// well-formed piece or throws a `JSONError` naming the byte. The bytes must outlive the scanner.
public struct JSONScanner {
    public static let maxDepth = 64

    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0
    private var depth = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Checks that `bytes` is exactly one JSON text (RFC 8259 §2), with optional surrounding whitespace.
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(JSONError) {
        var scanner = JSONScanner(bytes)
        try scanner.skipValue()
        try scanner.expectEnd()
    }

    /// Checks that nothing but whitespace remains.
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if position < bytes.count { throw JSONError(offset: position, reason: .trailingData) }
    }

    @inline(__always)
    public mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    @inline(__always)
    private func fail(_ reason: JSONError.Reason) -> JSONError {
        JSONError(offset: position, reason: position >= bytes.count ? .unexpectedEnd : reason)
    }

    /// Skips whitespace and tells what kind of value starts there, consuming nothing of it.
    public mutating func valueKind() throws(JSONError) -> JSONValueKind {
        skipWhitespace()
        guard position < bytes.count else { throw fail(.expectedValue) }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"): return .true
        case UInt8(ascii: "f"): return .false
        case UInt8(ascii: "n"): return .null
        default: throw fail(.expectedValue)
        }
    }

    // MARK: Containers

    /// Consumes `{`; follow with `nextMember` until it returns nil.
    public mutating func enterObject() throws(JSONError) {
        try enter(UInt8(ascii: "{"))
    }

    /// Consumes `[`; follow with `nextElement` until it returns false.
    public mutating func enterArray() throws(JSONError) {
        try enter(UInt8(ascii: "["))
    }

    private mutating func enter(_ open: UInt8) throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == open else { throw fail(.expectedValue) }
        if depth == Self.maxDepth { throw JSONError(offset: position, reason: .tooDeep) }
        depth += 1
        position += 1
    }

    /// Moves to the next member of the object entered last and returns its key, positioned at its value;
    /// returns nil after consuming the closing `}`. `first` must start true for each object.
    public mutating func nextMember(first: inout Bool) throws(JSONError) -> JSONString? {
        skipWhitespace()
        guard position < bytes.count else { throw fail(.expectedKey) }
        if bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            first = false
            return nil
        }
        if first {
            first = false
        } else {
            guard bytes[position] == UInt8(ascii: ",") else { throw fail(.expectedCommaOrObjectEnd) }
            position += 1
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { throw fail(.trailingComma) }
        }
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail(.expectedKey) }
        let key = try string()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail(.expectedColon) }
        position += 1
        return key
    }

    /// Moves to the next element of the array entered last and returns true, positioned at it;
    /// returns false after consuming the closing `]`. `first` must start true for each array.
    public mutating func nextElement(first: inout Bool) throws(JSONError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw fail(.expectedValue) }
        if bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            first = false
            return false
        }
        if first {
            first = false
            return true
        }
        guard bytes[position] == UInt8(ascii: ",") else { throw fail(.expectedCommaOrArrayEnd) }
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") { throw fail(.trailingComma) }
        return true
    }

    // MARK: Values

    /// Consumes any value, checking it completely.
    public mutating func skipValue() throws(JSONError) {
        switch try valueKind() {
        case .object:
            try enterObject()
            var first = true
            while try nextMember(first: &first) != nil { try skipValue() }
        case .array:
            try enterArray()
            var first = true
            while try nextElement(first: &first) { try skipValue() }
        case .string: _ = try string()
        case .number: _ = try number()
        case .true: try literal("true")
        case .false: try literal("false")
        case .null: try literal("null")
        }
    }

    /// Consumes the literal `word` (`true`, `false` or `null`).
    public mutating func literal(_ word: StaticString) throws(JSONError) {
        skipWhitespace()
        let count = word.utf8CodeUnitCount
        let matched = word.withUTF8Buffer { word in
            var i = 0
            while i < count, position + i < bytes.count, bytes[position + i] == word[i] { i += 1 }
            return i
        }
        position += matched
        if matched < count { throw fail(.badLiteral) }
    }

    /// Consumes a number (RFC 8259 §6) and returns its bytes' range.
    public mutating func number() throws(JSONError) -> Range<Int> {
        skipWhitespace()
        let start = position
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw fail(.badNumber) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, bytes[position] &- 0x30 < 10 { throw fail(.leadingZero) }
        } else {
            try digits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            try digits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            try digits()
        }
        return start..<position
    }

    private mutating func digits() throws(JSONError) {
        let start = position
        while position < bytes.count, bytes[position] &- 0x30 < 10 { position += 1 }
        if position == start { throw fail(.badNumber) }
    }

    /// Consumes a string, checking its escapes and UTF-8, and returns its contents' range.
    public mutating func string() throws(JSONError) -> JSONString {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail(.expectedValue) }
        position += 1
        let start = position
        var hasEscapes = false
        let n = bytes.count
        while true {
            // Fast path: eight plain ASCII bytes at a time.
            while position + 8 <= n {
                if Self.needsAttention(bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)) { break }
                position += 8
            }
            guard position < n else { throw fail(.unexpectedEnd) }
            let c = bytes[position]
            switch c {
            case UInt8(ascii: "\""):
                position += 1
                return JSONString(range: start..<(position - 1), hasEscapes: hasEscapes)
            case UInt8(ascii: "\\"):
                hasEscapes = true
                try escape()
            case 0..<0x20:
                throw fail(.controlCharacterInString)
            case 0x20..<0x80:
                position += 1
            default:
                try multiByteScalar()
            }
        }
    }

    /// True when a word holds `"`, `\`, a control byte or a non-ASCII byte (SWAR byte tests).
    @inline(__always)
    private static func needsAttention(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes: UInt64 = 0x2222_2222_2222_2222
        let backslashes: UInt64 = 0x5C5C_5C5C_5C5C_5C5C
        let spaces: UInt64 = 0x2020_2020_2020_2020
        let q: UInt64 = x ^ quotes
        let b: UInt64 = x ^ backslashes
        let quote: UInt64 = (q &- ones) & ~q
        let backslash: UInt64 = (b &- ones) & ~b
        let control: UInt64 = (x &- spaces) & ~x
        return (quote | backslash | control | x) & highs != 0
    }

    private mutating func escape() throws(JSONError) {
        let escapeStart = position
        position += 1
        guard position < bytes.count else { throw fail(.unexpectedEnd) }
        switch bytes[position] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 1
        case UInt8(ascii: "u"):
            let unit = try hex4()
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate must be followed at once by an escaped low one.
                for (k, expected) in [UInt8(ascii: "\\"), UInt8(ascii: "u")].enumerated() {
                    guard position + k < bytes.count else { throw JSONError(offset: bytes.count, reason: .unexpectedEnd) }
                    guard bytes[position + k] == expected else { throw JSONError(offset: escapeStart, reason: .loneSurrogate) }
                }
                position += 1
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw JSONError(offset: escapeStart, reason: .loneSurrogate) }
            case 0xDC00...0xDFFF:
                throw JSONError(offset: escapeStart, reason: .loneSurrogate)
            default:
                break
            }
        default:
            throw fail(.badEscape)
        }
    }

    /// Consumes `u` and four hex digits.
    private mutating func hex4() throws(JSONError) -> UInt32 {
        position += 1
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw fail(.unexpectedEnd) }
            guard let digit = JSONUnescaper.hexValue(bytes[position]) else { throw fail(.badEscape) }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Consumes one UTF-8 scalar of 2–4 bytes (RFC 3629 §4: no overlongs, surrogates or values past U+10FFFF).
    private mutating func multiByteScalar() throws(JSONError) {
        let lead = bytes[position]
        let count: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: count = 2
        case 0xE0: count = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: count = 3
        case 0xED: count = 3; secondHigh = 0x9F
        case 0xF0: count = 4; secondLow = 0x90
        case 0xF1...0xF3: count = 4
        case 0xF4: count = 4; secondHigh = 0x8F
        default: throw fail(.invalidUTF8)
        }
        var i = 1
        while i < count {
            guard position + i < bytes.count else { throw JSONError(offset: bytes.count, reason: .unexpectedEnd) }
            let byte = bytes[position + i]
            let valid = i == 1 ? (byte >= secondLow && byte <= secondHigh) : (byte & 0xC0 == 0x80)
            guard valid else { throw JSONError(offset: position, reason: .invalidUTF8) }
            i += 1
        }
        position += count
    }
}
