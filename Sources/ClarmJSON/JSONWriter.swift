/// Appends JSON to a reused byte buffer without going through `String`.
public struct JSONWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    public mutating func integer(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            // magnitude avoids overflow for Int.min
            unsigned(value.magnitude)
        } else {
            unsigned(UInt(value))
        }
    }

    private mutating func unsigned(_ value: UInt) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes hold 20 digits
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                count += 1
            } while v > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    /// Writes `[`, each item through `element`, separated by commas, then `]`.
    public mutating func array<Items: Sequence>(_ items: Items, _ element: (Items.Element, inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for item in items {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(item, &self)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an array of strings.
    public mutating func strings<Items: Sequence<String>>(_ items: Items) {
        array(items) { item, json in json.string(item) }
    }

    /// Writes a number in its shortest round-trip form; JSON has no infinities or NaN, so those write 0.
    public mutating func number(_ value: Double) {
        let text = value.isFinite ? "\(value)" : "0"
        bytes.append(contentsOf: text.utf8)
    }

    /// Writes `text` as a quoted JSON string, escaping quotes, backslashes and control characters.
    public mutating func string(_ text: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        escaped(text)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes the contents of a JSON string without its quotes.
    public mutating func escaped(_ text: UnsafeRawBufferPointer) {
        for c in text {
            switch c {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hexDigit(c >> 4))
                bytes.append(Self.hexDigit(c & 0xF))
            default: bytes.append(c)
            }
        }
    }

    public mutating func string(_ text: StaticString) {
        text.withUTF8Buffer { string(UnsafeRawBufferPointer($0)) }
    }

    public mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? v + 0x30 : v - 10 + 0x61
    }
}
