import ClarmEvents
import ClarmJSON

/// HubSpot API calls: contacts upserted by email from `identify`, custom behavioural events from purchases
/// and goals of identified visitors.
enum HubSpotRequests {
    static let maxBatch = 100

    /// `POST /crm/v3/objects/contacts/batch/upsert` body for identify events with an email (the last one per
    /// email wins); nil when none has one.
    static func upsert(_ events: [EventRecord], planProperty: String) -> [UInt8]? {
        var byEmail: [(String, [String: JSONValue])] = []
        for event in events where event.event == "identify" {
            let p = EventPayload.properties(event)
            guard let email = p["email"]?.text?.lowercased(), email.contains("@") else { continue }
            byEmail.removeAll { $0.0 == email }
            byEmail.append((email, p))
        }
        guard !byEmail.isEmpty else { return nil }
        var json = JSONWriter(capacity: 512)
        json.raw(#"{"inputs":"#)
        json.array(byEmail.suffix(maxBatch)) { entry, json in
            let (email, p) = entry
            json.raw(#"{"idProperty":"email","id":"#)
            json.string(email)
            json.raw(#","properties":{"email":"#)
            json.string(email)
            if let name = p["name"]?.text {
                let parts = name.split(separator: " ", maxSplits: 1)
                json.raw(#","firstname":"#)
                json.string(String(parts.first ?? ""))
                json.raw(#","lastname":"#)
                json.string(parts.count > 1 ? String(parts[1]) : "")
            }
            if let company = p["company"]?.text {
                json.raw(#","company":"#)
                json.string(company)
            }
            if let plan = p["plan"]?.text {
                json.raw(",")
                json.string(planProperty)
                json.raw(":")
                json.string(plan)
            }
            json.raw("}}")
        }
        json.raw("}")
        return json.bytes
    }

    /// `POST /events/v3/send` body for a purchase or goal by `email`.
    static func behaviouralEvent(_ event: EventRecord, email: String, eventName: String) -> [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.raw(#"{"eventName":"#)
        json.string(eventName)
        json.raw(#","email":"#)
        json.string(email)
        json.raw(#","occurredAt":"#)
        json.string(EventPayload.isoTime(milliseconds: event.timestamp))
        json.raw(#","properties":{"clarm_event":"#)
        json.string(event.event)
        for (key, value) in EventPayload.properties(event).sorted(by: { $0.key < $1.key }) {
            guard let text = value.text else { continue }
            json.raw(",")
            json.string("clarm_" + key.lowercased())
            json.raw(":")
            json.string(text)
        }
        json.raw("}}")
        return json.bytes
    }
}
