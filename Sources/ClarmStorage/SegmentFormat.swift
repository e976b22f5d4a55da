import ClarmEvents

/// Constants and columns of segment files (docs/FORMAT.md, "Segments").
public enum SegmentFormat {
    static let headerMagic: [UInt8] = Array("CLSG".utf8)
    static let tailMagic: [UInt8] = Array("CLSE".utf8)
    /// Version written; readers also accept 1 (one dictionary block per column, blocks up to 1 GiB).
    static let version: UInt32 = 2
    static let headerSize = 8
    /// footerOffset u64 | footerLength u32 | footerCRC u32 | fileCRC u32 | "CLSE"
    static let tailSize = 24
    public static let rowsPerBlock = 16_384
    /// The largest raw (decompressed) size of any block a version-2 segment holds, dictionary blocks included.
    /// Writers split a dictionary over as many blocks as this needs; readers reject a larger declared size
    /// before allocating anything.
    public static let maxBlockBytes = 16 << 20
    /// The raw-size limit of version-1 blocks, which readers still accept.
    static let maxLegacyBlockBytes = 1 << 30
    /// The most rows a segment may hold or declare: dictionary ids are 32-bit (and interned as `Int32`), and
    /// block arithmetic on a declared count must not overflow.
    static let maxRows = Int(Int32.max)

    public enum Encoding: UInt8, Sendable {
        case delta = 0
        case dictionary = 1
    }

    /// The columns of a segment, in file order.
    public enum Column: String, CaseIterable, Sendable {
        case timestamp, visitor_id, session_id, event, site, origin, path, rest, referrer, user_agent
        case amount, currency, plan, goal, value, email, name, company, properties
        case country, region, city

        public var encoding: Encoding { self == .timestamp ? .delta : .dictionary }

        /// Columns added after segments were first written: a segment without one reads it as empty on every
        /// row (docs/FORMAT.md, "Segments"). Every other column must be present.
        public var mayBeAbsent: Bool { self == .country || self == .region || self == .city }

        /// The property key a column is extracted from, for the property columns.
        public var propertyKey: StaticString? {
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

        public static let propertyColumns: [Column] = allCases.filter { $0.propertyKey != nil }
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
