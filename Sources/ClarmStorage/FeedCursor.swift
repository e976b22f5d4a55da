/// A place in one shard's write-ahead log: the log's number and the byte offset of a record boundary in it.
/// Positions order as the log does: by log number, then offset.
public struct FeedPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let log: UInt64
    public let offset: Int

    public init(log: UInt64, offset: Int) {
        self.log = log
        self.offset = offset
    }

    public static func < (a: FeedPosition, b: FeedPosition) -> Bool {
        (a.log, a.offset) < (b.log, b.offset)
    }

    public var description: String { "\(log):\(offset)" }
}

/// One consumer's durable state in one shard, the file `shard-N/feed-<consumer>.cursor` (docs/FORMAT.md,
/// "Change feed"): `"CLFC" | log u64 | offset u64 | lost u64 | skipped_from u64 | skipped_through u64 |
/// crc32c u32`, little-endian, 48 bytes, replaced whole (temporary file, fsync, rename, directory fsync).
struct FeedCursor: Equatable {
    static let magic: [UInt8] = Array("CLFC".utf8)
    static let size = 48

    /// The next record the consumer has not acknowledged.
    var position: FeedPosition
    /// Events the retention bound deleted before the consumer acknowledged them.
    var lostEvents: UInt64 = 0
    /// The logs of the last such deletion (first and last number), if any.
    var skipped: ClosedRange<UInt64>? = nil

    static func fileName(_ consumer: String) -> String { "feed-\(consumer).cursor" }

    static func consumer(inFileName name: String) -> String? {
        guard name.hasPrefix("feed-"), name.hasSuffix(".cursor") else { return nil }
        let consumer = String(name.dropFirst(5).dropLast(7))
        return ChangeFeed.isValidName(consumer) ? consumer : nil
    }

    func encode() -> [UInt8] {
        var out = Self.magic
        for field in [position.log, UInt64(position.offset), lostEvents, skipped?.lowerBound ?? 0, skipped?.upperBound ?? 0] {
            withUnsafeBytes(of: field.littleEndian) { out.append(contentsOf: $0) }
        }
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The cursor of a file image; nil when it is damaged.
    static func decode(_ bytes: [UInt8]) -> FeedCursor? {
        guard bytes.count == size, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { raw -> FeedCursor? in
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<44])) == stored else { return nil }
            func field(_ i: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 4 + 8 * i, as: UInt64.self)) }
            guard let offset = Int(exactly: field(1)) else { return nil }
            let skipped = field(4) == 0 ? nil : field(3)...max(field(3), field(4))
            return FeedCursor(position: FeedPosition(log: field(0), offset: offset), lostEvents: field(2), skipped: skipped)
        }
    }
}
