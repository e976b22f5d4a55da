/// Where and why bytes are not RFC 8259 JSON.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the offending byte (the input's length when it ended too early).
    public let offset: Int
    public let reason: Reason

    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public enum Reason: Sendable, Equatable {
        case unexpectedEnd
        case expectedValue
        case expectedKey
        case expectedColon
        case expectedCommaOrObjectEnd
        case expectedCommaOrArrayEnd
        case trailingComma
        case leadingZero
        case badNumber
        case badLiteral
        case controlCharacterInString
        case badEscape
        case loneSurrogate
        case invalidUTF8
        case tooDeep
        case trailingData

        public var message: StaticString {
            switch self {
            case .unexpectedEnd: "unexpected end of input"
            case .expectedValue: "expected a value"
            case .expectedKey: "expected a string key"
            case .expectedColon: "expected ':'"
            case .expectedCommaOrObjectEnd: "expected ',' or '}'"
            case .expectedCommaOrArrayEnd: "expected ',' or ']'"
            case .trailingComma: "trailing comma"
            case .leadingZero: "leading zero in a number"
            case .badNumber: "malformed number"
            case .badLiteral: "invalid literal (expected true, false or null)"
            case .controlCharacterInString: "unescaped control character in a string"
            case .badEscape: "invalid escape sequence"
            case .loneSurrogate: "unpaired UTF-16 surrogate in a \\u escape"
            case .invalidUTF8: "invalid UTF-8"
            case .tooDeep: "nesting deeper than 64 levels"
            case .trailingData: "unexpected data after the JSON value"
            }
        }
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason.message)" }
}
