/// A parsed JSON document, for small bodies such as queries (events use the allocation-free scanner).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as written, so that callers choose how to read it.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order; a repeated key keeps every occurrence (`self[key]` finds the last).
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Parses exactly one JSON text.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        var scanner = JSONScanner(bytes)
        let value = try parseValue(&scanner)
        try scanner.expectEnd()
        return value
    }

    private static func parseValue(_ scanner: inout JSONScanner) throws(JSONError) -> JSONValue {
        switch try scanner.valueKind() {
        case .object:
            try scanner.enterObject()
            var members: [(key: String, value: JSONValue)] = []
            var first = true
            while let key = try scanner.nextMember(first: &first) {
                let name = text(key, scanner.bytes)
                members.append((name, try parseValue(&scanner)))
            }
            return .object(members)
        case .array:
            try scanner.enterArray()
            var elements: [JSONValue] = []
            var first = true
            while try scanner.nextElement(first: &first) { elements.append(try parseValue(&scanner)) }
            return .array(elements)
        case .string:
            return .string(text(try scanner.string(), scanner.bytes))
        case .number:
            let range = try scanner.number()
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]), as: UTF8.self))
        case .true:
            try scanner.literal("true")
            return .bool(true)
        case .false:
            try scanner.literal("false")
            return .bool(false)
        case .null:
            try scanner.literal("null")
            return .null
        }
    }

    private static func text(_ string: JSONString, _ bytes: UnsafeRawBufferPointer) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[string.range])
        guard string.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        JSONUnescaper.unescape(raw, appendingTo: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
