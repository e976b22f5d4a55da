import ClarmStorage

/// The first event of a person (the earliest of all their devices' events, ties by visitor id), as text, so
/// that a shard other than the one it was read from can intern it.
struct PersonFirstEvent: Sendable {
    var timestamp: Int64
    var visitorID: [UInt8]
    var path, origin, rest, referrer, userAgent: [UInt8]
    var country, region, city: [UInt8]

    func precedes(_ other: PersonFirstEvent) -> Bool {
        timestamp != other.timestamp ? timestamp < other.timestamp : visitorID.lexicographicallyPrecedes(other.visitorID)
    }
}

extension QueryEngine {
    /// For each shard (by index), its identified visitors mapped to their person's first event; empty unless
    /// the query credits persons. One scan of the `identify` events and one of the identified visitors' events
    /// per shard, then one pass over the visitors: linear, whatever the number of devices.
    func personFirstEvents(_ query: Query) throws(QueryError) -> [[[UInt8]: PersonFirstEvent]] {
        guard query.creditsPersons else { return [] }
        let control = self.control
        let found = try eachShard { shard throws(SegmentCorruption) -> [(email: String, first: PersonFirstEvent)] in
            var identifies = RowSelection(site: query.site)
            identifies.control = control
            identifies.columns = [.properties]
            identifies.events = [Self.identify]
            var scan = try ShardRows.scan(shard, identifies)
            let emails = Self.identities(&scan).compactMapValues { Person.key($0["email"]) }
            guard !emails.isEmpty else { return [] }
            var history = RowSelection(site: query.site)
            history.control = control
            history.visitors = Set(emails.keys.map { Array($0.utf8) })
            history.columns = [.path, .origin, .rest, .referrer, .user_agent, .country, .region, .city]
            var rows = try ShardRows.scan(shard, history)
            var result: [(email: String, first: PersonFirstEvent)] = []
            let strings = rows.strings
            Self.forEachVisitor(&rows) { events in
                let row = events.first!
                let visitor = strings.string(row.visitor)
                guard let email = emails[visitor] else { return }
                result.append((email, PersonFirstEvent(
                    timestamp: row.timestamp, visitorID: Array(strings.value(row.visitor)), path: Array(strings.value(row.path)),
                    origin: Array(strings.value(row.origin)), rest: Array(strings.value(row.rest)),
                    referrer: Array(strings.value(row.referrer)), userAgent: Array(strings.value(row.userAgent)),
                    country: Array(strings.value(row.country)), region: Array(strings.value(row.region)),
                    city: Array(strings.value(row.city)))))
            }
            return result
        }
        var earliest: [String: PersonFirstEvent] = [:]
        for (email, first) in found.joined() where earliest[email].map({ first.precedes($0) }) ?? true {
            earliest[email] = first
        }
        var byShard = Array(repeating: [[UInt8]: PersonFirstEvent](), count: found.count)
        for (email, first) in found.joined() {
            let shard = first.visitorID.withUnsafeBytes { store.shard(forVisitor: $0) }
            byShard[shard][first.visitorID] = earliest[email]
        }
        return byShard
    }
}

extension ShardAggregation {
    /// Credits the conversions of identified visitors to their person's first event (`first`, by visitor id):
    /// kept as rows of this shard's strings, keyed by the visitor's string id.
    mutating func credit(_ first: [[UInt8]: PersonFirstEvent]) {
        for (visitor, first) in first {
            func id(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { rows.strings.id(for: $0) } }
            personFirstRows[id(visitor)] = EventRow(
                visitor: id(first.visitorID), session: rows.empty, timestamp: first.timestamp, sequence: 0, event: rows.empty,
                path: id(first.path), origin: id(first.origin), rest: id(first.rest), referrer: id(first.referrer),
                userAgent: id(first.userAgent), amount: rows.empty, currency: rows.empty, properties: rows.empty, property: rows.empty,
                country: id(first.country), region: id(first.region), city: id(first.city))
        }
    }
}
