import Foundation
import ClarmEvents

/// docs/QUERIES.md "People" computed apart from the engine, over decoded events: identities from
/// JSONSerialization, emails trimmed and lowercased by Foundation.
public enum PeopleReference {
    public struct Device: Equatable {
        public var visitorID: String
        public var firstSeen: Int64
        public var lastSeen: Int64
        public var events: Int

        public init(visitorID: String, firstSeen: Int64, lastSeen: Int64, events: Int) {
            self.visitorID = visitorID
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
            self.events = events
        }
    }

    public struct Person {
        public var email: String
        public var devices: [Device]
        public var revenue: [String: Double]
    }

    /// Each visitor's email key: that of the latest `identify` of theirs on the site that has one.
    public static func emails(_ events: [EventRecord], site: String, erased: Set<String> = []) -> [String: String] {
        var result: [String: (time: Int64, email: String)] = [:]
        for event in events where event.site == site && event.event == "identify" && !erased.contains(event.visitorID) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.properties.utf8)) as? [String: Any],
                  let email = object["email"] as? String else { continue }
            if let known = result[event.visitorID], known.time > event.timestamp { continue }
            result[event.visitorID] = (event.timestamp, email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
        }
        return result.compactMapValues { $0.email.isEmpty ? nil : $0.email }
    }

    /// People with events in `[from, to)`, keyed by email; devices ordered by id.
    public static func people(_ events: [EventRecord], site: String, from: Int64, to: Int64, erased: Set<String> = []) -> [String: Person] {
        let emailOf = emails(events, site: site, erased: erased)
        var result: [String: Person] = [:]
        var devices: [String: Device] = [:]
        for event in events where event.site == site && event.timestamp >= from && event.timestamp < to {
            guard let email = emailOf[event.visitorID] else { continue }
            var device = devices[event.visitorID] ?? Device(visitorID: event.visitorID, firstSeen: .max, lastSeen: .min, events: 0)
            device.firstSeen = min(device.firstSeen, event.timestamp)
            device.lastSeen = max(device.lastSeen, event.timestamp)
            device.events += 1
            devices[event.visitorID] = device
            var person = result[email] ?? Person(email: email, devices: [], revenue: [:])
            if event.event == "purchase", let amount = QueryReference.amount(event) {
                person.revenue[QueryReference.property("currency", event) ?? "unknown", default: 0] += amount
            }
            result[email] = person
        }
        for (id, device) in devices { result[emailOf[id]!]!.devices.append(device) }
        for key in result.keys { result[key]!.devices.sort { $0.visitorID < $1.visitorID } }
        return result
    }

    /// A person's whole timeline as (visitor, time, event), oldest first, ties by visitor id.
    public static func timeline(_ events: [EventRecord], site: String, email: String, erased: Set<String> = []) -> [String] {
        let emailOf = emails(events, site: site, erased: erased)
        return events.enumerated()
            .filter { $0.element.site == site && emailOf[$0.element.visitorID] == email }
            .sorted { a, b in
                a.element.timestamp != b.element.timestamp ? a.element.timestamp < b.element.timestamp
                    : a.element.visitorID != b.element.visitorID ? a.element.visitorID < b.element.visitorID : a.offset < b.offset
            }
            .map { "\($0.element.visitorID) \(Timestamp.format($0.element.timestamp)) \($0.element.event)" }
    }
}
