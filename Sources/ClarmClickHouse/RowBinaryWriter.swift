/// Appends values in ClickHouse's `RowBinary` format: fixed-width integers and floats little-endian, a
/// `String` as its byte length in unsigned LEB128 and then the bytes, a `Date` as days since 1970 in a `UInt16`.
public struct RowBinaryWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public mutating func string(_ value: String) {
        var length = UInt64(value.utf8.count)
        repeat {
            var byte = UInt8(length & 0x7F)
            length >>= 7
            if length != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while length != 0
        bytes.append(contentsOf: value.utf8)
    }

    public mutating func int64(_ value: Int64) { append(value.littleEndian) }
    public mutating func uint64(_ value: UInt64) { append(value.littleEndian) }
    public mutating func uint16(_ value: UInt16) { append(value.littleEndian) }
    public mutating func uint8(_ value: UInt8) { bytes.append(value) }
    public mutating func float64(_ value: Double) { append(value.bitPattern.littleEndian) }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}
