/// A validated event, in the binary form in which the gateway hands it to storage.
///
/// Layout (little-endian): `u32 length` of what follows, `u8 version (2)`, `i64 timestamp_ms`,
/// `i64 received_ms`, then twelve strings, each `u32 length` + UTF-8 bytes: the nine of `stringFields`, then
/// the location `country`, `region`, `city` (docs/FORMAT.md). An absent optional field is an empty string;
/// `properties` is a JSON object or empty. Version 1 records end after the nine; they read as unlocated.
public struct EventRecord: Sendable, Hashable {
    public var timestamp: Int64
    public var receivedAt: Int64
    public var event: String
    public var visitorID: String
    public var sessionID: String
    public var eventID: String
    public var url: String
    public var referrer: String
    public var userAgent: String
    public var properties: String
    public var site: String
    /// Where the client's address was located: ISO 3166-1 country code, first subdivision, city (English
    /// names); empty when unknown.
    public var country: String = ""
    public var region: String = ""
    public var city: String = ""

    public static let version: UInt8 = 2
    /// Records written before the location fields: `stringFields` only.
    public static let legacyVersion: UInt8 = 1
    /// The order in which the string fields the client sends follow the header; the location follows them.
    public static let stringFields: [EventField] = [.event, .visitorID, .sessionID, .eventID, .url, .referrer, .userAgent, .properties, .site]
    /// All strings of a current record: `stringFields`, then country, region, city.
    public static let fieldCount = stringFields.count + EventLocation.fieldCount
    static let headerSize = 4 + 1 + 8 + 8

    public init(timestamp: Int64, receivedAt: Int64, event: String, visitorID: String, sessionID: String = "",
                eventID: String = "", url: String = "", referrer: String = "", userAgent: String = "",
                properties: String = "", site: String) {
        self.timestamp = timestamp
        self.receivedAt = receivedAt
        self.event = event
        self.visitorID = visitorID
        self.sessionID = sessionID
        self.eventID = eventID
        self.url = url
        self.referrer = referrer
        self.userAgent = userAgent
        self.properties = properties
        self.site = site
    }

    /// Appends this event in the record layout.
    public func append(to out: inout [UInt8]) {
        var writer = EventRecordWriter()
        writer.begin(&out)
        for field in Self.stringFields {
            let start = writer.beginString(&out)
            let value = switch field {
            case .event: event
            case .visitorID: visitorID
            case .sessionID: sessionID
            case .eventID: eventID
            case .url: url
            case .referrer: referrer
            case .userAgent: userAgent
            case .properties: properties
            default: site
            }
            out.append(contentsOf: value.utf8)
            writer.endString(&out, bytesStart: start)
        }
        writer.appendStrings(&out, [country.utf8, region.utf8, city.utf8])
        writer.finish(&out, timestamp: timestamp, receivedAt: receivedAt)
    }

    public struct DecodingError: Error, Equatable {
        public let offset: Int
    }

    /// Decodes back-to-back records; throws at the first malformed one.
    public static func decodeAll(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> [EventRecord] {
        var records: [EventRecord] = []
        var offset = 0
        let complete = EventRecordView.forEach(in: bytes) { view in
            records.append(view.record)
            offset += view.length
        }
        guard complete else { throw DecodingError(offset: offset) }
        return records
    }
}

/// Appends records in `EventRecord`'s layout to a reused buffer.
struct EventRecordWriter {
    private(set) var start = 0

    mutating func begin(_ out: inout [UInt8]) {
        start = out.count
        out.append(contentsOf: repeatElement(0, count: EventRecord.headerSize))
        out[start + 4] = EventRecord.version
    }

    /// Starts a string field; returns where its bytes begin. Close it with `endString`.
    func beginString(_ out: inout [UInt8]) -> Int {
        out.append(contentsOf: repeatElement(0, count: 4))
        return out.count
    }

    func endString(_ out: inout [UInt8], bytesStart: Int) {
        Self.store(UInt32(out.count - bytesStart), in: &out, at: bytesStart - 4)
    }

    /// Appends whole string fields: the location (country, region, city), which follows `stringFields`.
    func appendStrings<Bytes: Sequence<UInt8>>(_ out: inout [UInt8], _ values: [Bytes]) {
        for value in values {
            let start = beginString(&out)
            out.append(contentsOf: value)
            endString(&out, bytesStart: start)
        }
    }

    func finish(_ out: inout [UInt8], timestamp: Int64, receivedAt: Int64) {
        Self.store(UInt32(out.count - start - 4), in: &out, at: start)
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: timestamp.littleEndian, toByteOffset: start + 5, as: Int64.self)
            raw.storeBytes(of: receivedAt.littleEndian, toByteOffset: start + 13, as: Int64.self)
        }
    }

    func abort(_ out: inout [UInt8]) {
        out.removeSubrange(start...)
    }

    private static func store(_ value: UInt32, in out: inout [UInt8], at offset: Int) {
        out.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}
