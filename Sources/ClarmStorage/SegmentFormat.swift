import ClarmEvents
import ClarmJSON

/// Constants and columns of segment files (docs/FORMAT.md, "Segments").
public enum SegmentFormat {
    static let headerMagic: [UInt8] = Array("CLSG".utf8)
    static let tailMagic: [UInt8] = Array("CLSE".utf8)
    static let version: UInt32 = 1
    static let headerSize = 8
    /// footerOffset u64 | footerLength u32 | footerCRC u32 | fileCRC u32 | "CLSE"
    static let tailSize = 24
    public static let rowsPerBlock = 16_384

    public enum Encoding: UInt8, Sendable {
        case delta = 0
        case dictionary = 1
    }

    /// The columns of a segment, in file order.
    public enum Column: String, CaseIterable, Sendable {
        case timestamp, visitor_id, session_id, event, site, origin, path, rest, referrer, user_agent
        case amount, currency, plan, goal, value, email, name, company, properties

        public var encoding: Encoding { self == .timestamp ? .delta : .dictionary }

        /// The property key a column is extracted from, for the property columns.
        var propertyKey: StaticString? {
            switch self {
            case .amount: "amount"
            case .currency: "currency"
            case .plan: "plan"
            case .goal: "goal"
            case .value: "value"
            case .email: "email"
            case .name: "name"
            case .company: "company"
            default: nil
            }
        }

        static let propertyColumns: [Column] = allCases.filter { $0.propertyKey != nil }
    }
}

/// A URL cut so that `origin + path + rest` is the URL as sent.
struct URLParts {
    var origin: Range<Int>
    var path: Range<Int>
    var rest: Range<Int>

    init(_ url: UnsafeRawBufferPointer) {
        var i = 0
        var pathStart = 0
        // scheme "://" authority
        while i < url.count, url[i] != UInt8(ascii: ":"), url[i] != UInt8(ascii: "/"), url[i] != UInt8(ascii: "?"), url[i] != UInt8(ascii: "#") { i += 1 }
        if i > 0, i + 2 < url.count, url[i] == UInt8(ascii: ":"), url[i + 1] == UInt8(ascii: "/"), url[i + 2] == UInt8(ascii: "/") {
            i += 3
            while i < url.count, url[i] != UInt8(ascii: "/"), url[i] != UInt8(ascii: "?"), url[i] != UInt8(ascii: "#") { i += 1 }
            pathStart = i
        }
        var pathEnd = pathStart
        while pathEnd < url.count, url[pathEnd] != UInt8(ascii: "?"), url[pathEnd] != UInt8(ascii: "#") { pathEnd += 1 }
        origin = 0..<pathStart
        path = pathStart..<pathEnd
        rest = pathEnd..<url.count
    }
}

/// The text of top-level properties the dashboards need: strings unescaped, anything else as written.
struct PropertyExtractor {
    private var scratch: [UInt8] = []

    /// Calls `body(column, text)` for each property column present in the (validated) properties object.
    mutating func extract(_ properties: UnsafeRawBufferPointer, _ body: (SegmentFormat.Column, UnsafeRawBufferPointer) -> Void) {
        guard !properties.isEmpty else { return }
        var scanner = JSONScanner(properties)
        do throws(JSONError) {
            try scanner.enterObject()
            var first = true
            while let key = try scanner.nextMember(first: &first) {
                let name = UnsafeRawBufferPointer(rebasing: properties[key.range])
                guard let column = SegmentFormat.Column.propertyColumns.first(where: { column in
                    column.propertyKey!.withUTF8Buffer { $0.elementsEqual(name) }
                }) else {
                    try scanner.skipValue()
                    continue
                }
                if try scanner.valueKind() == .string {
                    let string = try scanner.string()
                    let raw = UnsafeRawBufferPointer(rebasing: properties[string.range])
                    if string.hasEscapes {
                        scratch.removeAll(keepingCapacity: true)
                        JSONUnescaper.unescape(raw, appendingTo: &scratch)
                        scratch.withUnsafeBytes { body(column, $0) }
                    } else {
                        body(column, raw)
                    }
                } else {
                    scanner.skipWhitespace()
                    let start = scanner.position
                    try scanner.skipValue()
                    body(column, UnsafeRawBufferPointer(rebasing: properties[start..<scanner.position]))
                }
            }
        } catch {
            // Properties were validated on the way in; a malformed object contributes no columns.
        }
    }
}

/// Why stored bytes could not be read.
struct FormatError: Error {
    let reason: String
}

/// Bounds-checked little-endian reads from untrusted bytes: every read may fail, none may trap.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    var position: Int


    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard position >= 0, size <= bytes.count - position else { throw FormatError(reason: "data ends early") }
        defer { position += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func bytes(_ count: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        guard count >= 0, position >= 0, count <= bytes.count - position else { throw FormatError(reason: "data ends early") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }
}

enum Varint {
    static func appendZigZag(_ value: Int64, to out: inout [UInt8]) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func readZigZag(_ cursor: inout ByteCursor) throws(FormatError) -> Int64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try cursor.read(UInt8.self)
            guard shift < 64 else { throw FormatError(reason: "malformed varint") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return Int64(bitPattern: result >> 1) ^ -Int64(bitPattern: result & 1)
    }
}
