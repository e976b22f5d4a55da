/// The write-ahead log's block and fragment layout (docs/FORMAT.md, "Write-ahead log").
enum LogFormat {
    static let blockSize = 32 * 1024
    /// crc u32 | length u16 | type u8
    static let headerSize = 7

    enum FragmentType: UInt8 {
        case full = 1, first = 2, middle = 3, last = 4
    }

    static func crc(type: UInt8, payload: UnsafeRawBufferPointer) -> UInt32 {
        var t = type
        let typeCRC = withUnsafeBytes(of: &t) { CRC32C.checksum($0) }
        return CRC32C.mask(CRC32C.update(typeCRC, payload))
    }
}

/// Damage found while reading stored data, with where it is.
public struct CorruptionReport: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let offset: Int
    public let reason: String

    public init(path: String, offset: Int, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(path) at byte \(offset): \(reason)" }
}
