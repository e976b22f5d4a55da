/// Character classes of RFC 9110 §5.6.2 and RFC 9112.
@usableFromInline
enum ByteClass {
    /// tchar of RFC 9110 §5.6.2: "!#$%&'*+-.^_`|~", digits and letters.
    @inlinable @inline(__always)
    static func isToken(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// field-vchar / SP / HTAB: anything but controls (obs-text is allowed).
    @inlinable @inline(__always)
    static func isFieldValue(_ c: UInt8) -> Bool {
        c == 0x09 || (c >= 0x20 && c != 0x7F)
    }

    /// Bytes allowed in a request target: visible ASCII.
    @inlinable @inline(__always)
    static func isTargetByte(_ c: UInt8) -> Bool {
        c > 0x20 && c < 0x7F
    }

    @inlinable @inline(__always)
    static func lowercased(_ c: UInt8) -> UInt8 {
        c &- 0x41 < 26 ? c | 0x20 : c
    }

    @inlinable @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}

extension ByteClass {
    /// Letters, digits, "+", "-", "." (RFC 3986 §3.1).
    @inlinable @inline(__always)
    static func isSchemeByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2B, 0x2D, 0x2E: true
        default: false
        }
    }
}
