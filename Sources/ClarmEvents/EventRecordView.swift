/// A borrowed, validated view of one record in `EventRecord`'s layout, reading fields without copying.
public struct EventRecordView {
    public let bytes: UnsafeRawBufferPointer
    /// Where each of the record's strings starts and ends, in order (the location of a version 1 record: empty).
    private var bounds: InlineArray<24, Int32>

    /// Parses the record at the start of `bytes`; nil when it is malformed. `length` is the record's size.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= EventRecord.headerSize else { return nil }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)))
        guard length + 4 <= bytes.count, length + 4 >= EventRecord.headerSize else { return nil }
        let strings = switch bytes[4] {
        case EventRecord.version: EventRecord.fieldCount
        case EventRecord.legacyVersion: EventRecord.stringFields.count
        default: -1
        }
        guard strings > 0 else { return nil }
        let end = length + 4
        var p = EventRecord.headerSize
        bounds = InlineArray(repeating: Int32(end))
        for i in 0..<strings {
            guard p + 4 <= end else { return nil }
            let count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
            p += 4
            guard count <= end - p else { return nil }
            bounds[2 * i] = Int32(p)
            bounds[2 * i + 1] = Int32(p + count)
            p += count
        }
        guard p == end else { return nil }
        self.bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
    }

    public var length: Int { bytes.count }
    public var timestamp: Int64 { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 5, as: Int64.self)) }
    public var receivedAt: Int64 { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 13, as: Int64.self)) }

    /// The bytes of a string field (empty when absent).
    public func field(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[Int(bounds[2 * index])..<Int(bounds[2 * index + 1])])
    }

    public var event: UnsafeRawBufferPointer { field(0) }
    public var visitorID: UnsafeRawBufferPointer { field(1) }
    public var sessionID: UnsafeRawBufferPointer { field(2) }
    public var eventID: UnsafeRawBufferPointer { field(3) }
    public var url: UnsafeRawBufferPointer { field(4) }
    public var referrer: UnsafeRawBufferPointer { field(5) }
    public var userAgent: UnsafeRawBufferPointer { field(6) }
    public var properties: UnsafeRawBufferPointer { field(7) }
    public var site: UnsafeRawBufferPointer { field(8) }
    public var country: UnsafeRawBufferPointer { field(9) }
    public var region: UnsafeRawBufferPointer { field(10) }
    public var city: UnsafeRawBufferPointer { field(11) }

    /// An owned copy, for tests and tools.
    public var record: EventRecord {
        func text(_ i: Int) -> String { String(decoding: field(i), as: UTF8.self) }
        var record = EventRecord(timestamp: timestamp, receivedAt: receivedAt, event: text(0), visitorID: text(1),
                                 sessionID: text(2), eventID: text(3), url: text(4), referrer: text(5),
                                 userAgent: text(6), properties: text(7), site: text(8))
        record.country = text(9)
        record.region = text(10)
        record.city = text(11)
        return record
    }

    /// Calls `body` with each record of back-to-back `records`; returns false at the first malformed one.
    @discardableResult
    public static func forEach(in records: UnsafeRawBufferPointer, _ body: (EventRecordView) throws -> Void) rethrows -> Bool {
        var offset = 0
        while offset < records.count {
            guard let view = EventRecordView(UnsafeRawBufferPointer(rebasing: records[offset...])) else { return false }
            try body(view)
            offset += view.length
        }
        return true
    }
}
