import ClarmEvents
import ClarmJSON
import Glibc

/// An event as destinations receive it: what is stored, with its properties as a JSON object.
enum EventPayload {
    static func write(_ event: EventRecord, into json: inout JSONWriter) {
        json.raw(#"{"event":"#)
        json.string(event.event)
        json.raw(#","timestamp":"#)
        json.string(isoTime(milliseconds: event.timestamp))
        json.raw(#","site":"#)
        json.string(event.site)
        json.raw(#","visitor_id":"#)
        json.string(event.visitorID)
        for (key, value) in [("session_id", event.sessionID), ("event_id", event.eventID), ("url", event.url),
                             ("referrer", event.referrer)] where !value.isEmpty {
            json.raw(",")
            json.string(key)
            json.raw(":")
            json.string(value)
        }
        json.raw(#","properties":"#)
        // Stored properties are a JSON object the gateway validated, or empty.
        if event.properties.isEmpty { json.raw("{}") } else { json.bytes += Array(event.properties.utf8) }
        json.raw("}")
    }

    /// The event's properties, parsed; empty when it has none.
    static func properties(_ event: EventRecord) -> [String: JSONValue] {
        guard !event.properties.isEmpty else { return [:] }
        let parsed = Array(event.properties.utf8).withUnsafeBytes { try? JSONValue.parse($0) }
        guard case .object(let members)? = parsed else { return [:] }
        var result: [String: JSONValue] = [:]
        for member in members { result[member.key] = member.value }
        return result
    }

    /// `2026-11-29T23:59:01.250Z`.
    static func isoTime(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { String(v).leftPadded(2) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):"
            + "\(two(parts.tm_sec)).\(String(milliseconds % 1000).leftPadded(3))Z"
    }
}

extension JSONValue {
    /// A string, or a number as written; nil otherwise.
    var text: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        default: nil
        }
    }
}
