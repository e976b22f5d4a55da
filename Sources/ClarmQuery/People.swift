import ClarmEvents
import ClarmStorage

/// Visitors who identified with the same email, as one person (docs/QUERIES.md, "People").
public struct Person: Sendable {
    /// The person's key: the email trimmed of white space and lowercased.
    public var email: String
    /// Every device's traits merged, those of the most recently seen device winning.
    public var identity: [String: String]
    /// The person's visitors, most recently seen first (ties by id).
    public var devices: [VisitorSummary]
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var revenue: [String: Double]

    init(email: String, devices: [VisitorSummary]) {
        self.email = email
        self.devices = devices.sorted { $0.lastSeen != $1.lastSeen ? $0.lastSeen > $1.lastSeen : $0.visitorID < $1.visitorID }
        identity = [:]
        revenue = [:]
        for device in self.devices.reversed() {
            identity.merge(device.identity) { _, newer in newer }
            revenue.merge(device.revenue, uniquingKeysWith: +)
        }
        firstSeen = devices.map(\.firstSeen).min() ?? 0
        lastSeen = devices.map(\.lastSeen).max() ?? 0
    }

    /// The key an `identity.email` gives, or nil when there is none.
    public static func key(_ email: String?) -> String? {
        guard let trimmed = email?.trimmingWhiteSpace, !trimmed.isEmpty else { return nil }
        return trimmed.lowercased()
    }
}

public struct PersonDetail: Sendable {
    public var person: Person
    /// Every event of every device, oldest first (ties by visitor id, then in storage order).
    public var timeline: [(visitorID: String, event: TimelineEvent)]
}

extension QueryEngine {
    /// People with events in `[from, to)`, most recently seen first; `search` matches the email. A person's
    /// devices are their visitors with events in the range; each visitor's email is that of their identity
    /// (every `identify` of theirs, the latest value winning), so a visitor belongs to one person at most.
    public func people(site: String, from: Int64, to: Int64, search: String?, limit: Int, offset: Int) throws(QueryError) -> (rows: [Person], total: Int) {
        let visitors = try visitors(site: site, from: from, to: to, search: nil, limit: Int.max, offset: 0).rows
        // One pass: each visitor joins its email's group.
        var devicesOf: [String: [VisitorSummary]] = [:]
        for visitor in visitors {
            guard let email = Person.key(visitor.identity["email"]) else { continue }
            devicesOf[email, default: []].append(visitor)
        }
        var all = devicesOf.map { Person(email: $0.key, devices: $0.value) }
        if let search, !search.isEmpty {
            let needle = search.lowercased()
            all = all.filter { $0.email.contains(needle) }
        }
        all.sort { $0.lastSeen != $1.lastSeen ? $0.lastSeen > $1.lastSeen : $0.email < $1.email }
        return (Array(all.dropFirst(offset).prefix(limit)), all.count)
    }

    /// One person's devices over their whole history and their events merged in time order; nil when no
    /// visitor of the site has that email.
    public func person(site: String, email: String) throws(QueryError) -> PersonDetail? {
        guard let wanted = Person.key(email) else { return nil }
        let parts = try eachShard { shard throws(SegmentCorruption) -> (devices: [VisitorSummary], timeline: [(String, TimelineEvent, Int)]) in
            var identifies = RowSelection(site: site)
            identifies.control = control
            identifies.columns = [.properties]
            identifies.events = [Self.identify]
            var found = try ShardRows.scan(shard, identifies)
            let identities = Self.identities(&found).filter { Person.key($0.value["email"]) == wanted }
            guard !identities.isEmpty else { return ([], []) }
            var history = RowSelection(site: site)
            history.control = control
            history.visitors = Set(identities.keys.map { Array($0.utf8) })
            history.columns = [.path, .origin, .rest, .referrer, .user_agent, .amount, .currency, .properties, .country, .region, .city]
            var scan = try ShardRows.scan(shard, history)
            var devices = Self.summaries(&scan)
            for i in devices.indices { devices[i].identity = identities[devices[i].visitorID] ?? [:] }
            let strings = scan.strings
            let timeline = scan.rows.enumerated().map { offset, row in
                (strings.string(row.visitor), Self.timelineEvent(row, strings), offset)
            }
            return (devices, timeline)
        }
        let devices = parts.flatMap { $0.devices }
        guard !devices.isEmpty else { return nil }
        var timeline = parts.flatMap { $0.timeline }
        timeline.sort { a, b in
            a.1.time != b.1.time ? a.1.time < b.1.time : a.0 != b.0 ? a.0 < b.0 : a.2 < b.2
        }
        return PersonDetail(person: Person(email: wanted, devices: devices), timeline: timeline.map { ($0.0, $0.1) })
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    var trimmingWhiteSpace: Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return self[first...last]
    }
}
