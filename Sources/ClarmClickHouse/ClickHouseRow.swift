import ClarmEvents
import ClarmQuery
import Crypto

/// One event as a row of Clarm's ClickHouse table (docs/SCALE.md, "Schema"), in `RowBinary`.
///
/// Besides the event's own fields a row carries what the queries need without parsing JSON in SQL, computed
/// here by the same code the embedded engine uses: the UTC day and a hash of the visitor (the sort and
/// sharding keys), and a purchase's revenue (`properties.amount` when a finite JSON number, the last one
/// winning; `properties.currency` as text, `unknown` when absent), and the event's values of the dimensions
/// that depend on it alone (`EventDimensions`: its page and hostname, and a visit's source, channel, referrer,
/// UTM parameters, browser, OS and device if it is the visit's first event).
public enum ClickHouseRow {
    public struct Column: Sendable {
        public let name: String
        public let type: String
    }

    /// The columns, in the order `append` writes them.
    public static let columns: [Column] = [
        Column(name: "site", type: "String"),
        Column(name: "day", type: "Date"),
        Column(name: "visitor_hash", type: "UInt64"),
        Column(name: "timestamp_ms", type: "Int64"),
        Column(name: "event_key", type: "String"),
        Column(name: "event", type: "String"),
        Column(name: "visitor_id", type: "String"),
        Column(name: "session_id", type: "String"),
        Column(name: "event_id", type: "String"),
        Column(name: "url", type: "String"),
        Column(name: "referrer", type: "String"),
        Column(name: "user_agent", type: "String"),
        Column(name: "properties", type: "String"),
        Column(name: "received_ms", type: "Int64"),
        Column(name: "revenue", type: "Float64"),
        Column(name: "revenue_counts", type: "UInt8"),
        Column(name: "currency", type: "String"),
        Column(name: "page", type: "String"),
        Column(name: "hostname", type: "String"),
        Column(name: "source", type: "String"),
        Column(name: "channel", type: "String"),
        Column(name: "visit_referrer", type: "String"),
        Column(name: "utm_source", type: "String"),
        Column(name: "utm_medium", type: "String"),
        Column(name: "utm_campaign", type: "String"),
        Column(name: "browser", type: "String"),
        Column(name: "os", type: "String"),
        Column(name: "device", type: "String"),
    ]

    /// Appends `record` as one row. `key` is its event key (`eventKey`).
    public static func append(_ record: EventRecord, key: String, to writer: inout RowBinaryWriter, reader: inout PropertyReader) {
        writer.string(record.site)
        writer.uint16(UInt16(clamping: floorDiv(record.timestamp, 86_400_000)))
        writer.uint64(visitorHash(record.visitorID))
        writer.int64(record.timestamp)
        writer.string(key)
        writer.string(record.event)
        writer.string(record.visitorID)
        writer.string(record.sessionID)
        writer.string(record.eventID)
        writer.string(record.url)
        writer.string(record.referrer)
        writer.string(record.userAgent)
        writer.string(record.properties)
        writer.int64(record.receivedAt)
        var amount: Double? = nil
        var currency = "unknown"
        Array(record.properties.utf8).withUnsafeBytes { properties in
            reader.forEachMember(properties) { name, text, kind in
                if name.elementsEqual("amount".utf8) { amount = kind == .number ? PropertyReader.finiteValue(ofNumber: text) : nil }
                if name.elementsEqual("currency".utf8) { currency = String(decoding: text, as: UTF8.self) }
            }
        }
        let counts = record.event == "purchase" && amount != nil
        writer.float64(counts ? amount! : 0)
        writer.uint8(counts ? 1 : 0)
        writer.string(currency)
        let dimensions = EventDimensions(record)
        for value in [dimensions.page, dimensions.hostname, dimensions.source, dimensions.channel, dimensions.referrer,
                      dimensions.utmSource, dimensions.utmMedium, dimensions.utmCampaign, dimensions.browser, dimensions.os,
                      dimensions.device] {
            writer.string(value)
        }
    }

    /// The key that makes a re-sent row harmless: `ReplacingMergeTree` keeps one row per sort key, and the
    /// key ends the sort key. `i:` + the event's `event_id` when it has one, else `h:` + a hash of its content.
    public static func eventKey(_ record: EventRecord) -> String {
        record.eventID.isEmpty ? contentKey(record) : "i:" + record.eventID
    }

    /// `h:` + 128 bits of SHA-256 over every field segments keep (not `event_id` or the arrival time): the
    /// key of events whose id is not known, the same wherever the event is read from.
    public static func contentKey(_ record: EventRecord) -> String {
        var hasher = SHA256()
        for field in [record.site, record.visitorID, record.sessionID, record.event, record.url, record.referrer,
                      record.userAgent, record.properties] {
            withUnsafeBytes(of: UInt32(field.utf8.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(field.utf8))
        }
        withUnsafeBytes(of: record.timestamp.littleEndian) { hasher.update(bufferPointer: $0) }
        let hex = "0123456789abcdef".utf8.map { $0 }
        var out = "h:"
        for byte in hasher.finalize().prefix(16) {
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
            out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 15)]))
        }
        return out
    }

    /// 64-bit FNV-1a of the visitor id: orders a day's rows by visitor and shards a cluster by it, so one
    /// visitor's events (and visits) stay on one ClickHouse shard.
    public static func visitorHash(_ visitorID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in visitorID.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
