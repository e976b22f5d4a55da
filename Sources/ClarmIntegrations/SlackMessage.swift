import ClarmEvents
import ClarmJSON

/// Block Kit messages for a Slack incoming webhook: one per event, or one digest for several (Slack takes
/// about one message a second per webhook).
enum SlackMessage {
    static let digestLines = 20

    static func body(_ events: [EventRecord]) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        let lines = events.prefix(digestLines).map(line)
        let fallback: String
        var section: String
        if events.count == 1 {
            fallback = plain(events[0])
            section = lines[0]
        } else {
            fallback = "\(events.count) events on \(events[0].site)"
            section = "*\(events.count) events on \(escape(events[0].site))*\n" + lines.joined(separator: "\n")
            if events.count > digestLines { section += "\n…and \(events.count - digestLines) more" }
        }
        json.raw(#"{"text":"#)
        json.string(fallback)
        json.raw(#","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"#)
        json.string(String(section.prefix(2900)))
        json.raw(#"}},{"type":"context","elements":[{"type":"mrkdwn","text":"#)
        json.string("Clarm · \(escape(events[0].site)) · \(EventPayload.isoTime(milliseconds: events.last!.timestamp))")
        json.raw("}]}]}")
        return json.bytes
    }

    /// One event as a line of mrkdwn.
    static func line(_ event: EventRecord) -> String {
        let p = EventPayload.properties(event)
        let who = escape(p["email"]?.text ?? p["name"]?.text ?? event.visitorID)
        switch event.event {
        case "purchase":
            let amount = [p["amount"]?.text, p["currency"]?.text].compactMap { $0 }.joined(separator: " ")
            let plan = p["plan"]?.text.map { " · plan *\(escape($0))*" } ?? ""
            return ":moneybag: *Purchase* \(escape(amount))\(plan) by \(who)\(source(event))"
        case "identify":
            let company = p["company"]?.text.map { " at *\(escape($0))*" } ?? ""
            let plan = p["plan"]?.text.map { " · plan *\(escape($0))*" } ?? ""
            return ":wave: *New lead* \(escape(p["name"]?.text ?? "")) \(escape(p["email"]?.text ?? ""))\(company)\(plan)\(source(event))"
        case "goal_achieved":
            return ":dart: *Goal* \(escape(p["goal"]?.text ?? "")) by \(who)"
        case "widget_message":
            return ":speech_balloon: *Widget message* from \(who): \(escape(String((p["message"]?.text ?? "").prefix(300))))"
        default:
            return "*\(escape(event.event))* by \(who) on \(escape(event.url))"
        }
    }

    static func plain(_ event: EventRecord) -> String {
        "\(event.event) on \(event.site)"
    }

    /// Where the visitor came from: the `utm_source` of the event's page, or its referrer's host.
    static func source(_ event: EventRecord) -> String {
        if let range = event.url.range(of: "utm_source=") {
            let value = event.url[range.upperBound...].prefix { $0 != "&" && $0 != "#" }
            if !value.isEmpty { return " · source *\(escape(String(value)))*" }
        }
        if let host = event.referrer.split(separator: "/").dropFirst().first { return " · from \(escape(String(host)))" }
        return ""
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
