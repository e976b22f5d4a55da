/// Decodes the contents of a string that `JSONScanner` has already validated.
public enum JSONUnescaper {
    /// Appends the UTF-8 of the validated string contents `raw` (without quotes) to `output`.
    public static func unescape(_ raw: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        var i = 0
        let n = raw.count
        while i < n {
            let c = raw[i]
            guard c == UInt8(ascii: "\\") else {
                var end = i + 1
                while end < n, raw[end] != UInt8(ascii: "\\") { end += 1 }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i..<end]))
                i = end
                continue
            }
            let kind = raw[i + 1]
            i += 2
            switch kind {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(raw, at: i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // Validation guarantees a low surrogate escape follows.
                    let low = hex4(raw, at: i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &output)
            default: output.append(kind)  // " \ /
            }
        }
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    private static func hex4(_ raw: UnsafeRawBufferPointer, at i: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | UInt32(hexValue(raw[i + k]) ?? 0) }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        let low6 = UInt8(truncatingIfNeeded: scalar) & 0x3F
        if scalar < 0x80 {
            output.append(UInt8(truncatingIfNeeded: scalar))
        } else if scalar < 0x800 {
            output.append(0xC0 | UInt8(truncatingIfNeeded: scalar >> 6))
            output.append(0x80 | low6)
        } else if scalar < 0x10000 {
            output.append(0xE0 | UInt8(truncatingIfNeeded: scalar >> 12))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 6) & 0x3F)
            output.append(0x80 | low6)
        } else {
            output.append(0xF0 | UInt8(truncatingIfNeeded: scalar >> 18))
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 12) & 0x3F)
            output.append(0x80 | UInt8(truncatingIfNeeded: scalar >> 6) & 0x3F)
            output.append(0x80 | low6)
        }
    }
}
