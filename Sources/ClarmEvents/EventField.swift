/// The top-level fields of a tracking event, with their limits. Unknown fields are ignored.
public enum EventField: Int, Sendable, CaseIterable {
    case event, visitorID, sessionID, timestamp, url, referrer, userAgent, properties, eventID, sentAt, site

    public var name: StaticString {
        switch self {
        case .event: "event"
        case .visitorID: "visitor_id"
        case .sessionID: "session_id"
        case .timestamp: "timestamp"
        case .url: "url"
        case .referrer: "referrer"
        case .userAgent: "user_agent"
        case .properties: "properties"
        case .eventID: "event_id"
        case .sentAt: "sent_at"
        case .site: "site"
        }
    }

    /// Most bytes the (unescaped) value may take.
    public var maxLength: Int {
        switch self {
        case .event: 200
        case .visitorID, .sessionID, .eventID: 128
        case .timestamp, .sentAt: 64
        case .url, .referrer: 8192
        case .userAgent: 2048
        case .properties: 32 * 1024
        case .site: 253
        }
    }

    /// Finds the field a key names, comparing bytes.
    static func named(_ key: UnsafeRawBufferPointer) -> EventField? {
        for field in allCases where field.name.utf8CodeUnitCount == key.count {
            if field.name.withUTF8Buffer({ $0.elementsEqual(key) }) { return field }
        }
        return nil
    }
}

/// Why one event of a batch was not accepted.
public enum EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case notAnObject
    case missing(EventField)
    case notAString(EventField)
    case notAnObjectField(EventField)
    case empty(EventField)
    case tooLong(EventField)
    case badTimestamp(EventField)
    case timestampTooOld(maxAgeDays: Int)
    case timestampInFuture
    case noSite

    public var description: String {
        switch self {
        case .notAnObject: "event must be a JSON object"
        case .missing(let f): "\(f.name) is required"
        case .notAString(let f): "\(f.name) must be a string"
        case .notAnObjectField(let f): "\(f.name) must be a JSON object"
        case .empty(let f): "\(f.name) must not be empty"
        case .tooLong(let f): "\(f.name) is longer than \(f.maxLength) bytes"
        case .badTimestamp(let f): "\(f.name) must be an ISO 8601 UTC timestamp such as 2026-11-05T08:19:19.685Z"
        case .timestampTooOld(let days): "timestamp is more than \(days) day\(days == 1 ? "" : "s") old"
        case .timestampInFuture: "timestamp is more than 1 hour in the future"
        case .noSite: "site is required when url is not an absolute URL with a host"
        }
    }
}
