import Foundation
import ClarmEvents
import ClarmQuery

/// A deliberately plain implementation of docs/QUERIES.md over decoded events, written apart from the engine
/// (Foundation's URLComponents for URLs, JSONSerialization for properties, Dates for buckets), to check it.
public enum QueryReference {
    struct Visit {
        var first: EventRecord
    }

    public static func run(_ events: [EventRecord], _ query: Query) -> [[String]: [MetricValue]] {
        let seen = events.filter { $0.site == query.site && $0.timestamp >= query.from && $0.timestamp < query.to }
        var byVisitor: [String: [EventRecord]] = [:]
        for event in seen { byVisitor[event.visitorID, default: []].append(event) }
        // Whole histories, for attribution.
        var historyOf: [String: [EventRecord]] = [:]
        for event in events where event.site == query.site { historyOf[event.visitorID, default: []].append(event) }

        struct Sums {
            var visitors = Set<String>()
            var converting = Set<String>()
            var visits: [String: [EventRecord]] = [:]
            var pageviews = 0, events = 0, conversions = 0
            var revenue: [String: Double] = [:]
        }
        // With attribution_scope person: each identified visitor's person's first event, over all their devices.
        var personFirst: [String: EventRecord] = [:]
        if query.attributionScope == .person {
            let emailOf = PeopleReference.emails(events, site: query.site)
            var earliest: [String: EventRecord] = [:]
            for event in events where event.site == query.site {
                guard let email = emailOf[event.visitorID] else { continue }
                if let known = earliest[email], (known.timestamp, known.visitorID) <= (event.timestamp, event.visitorID) { continue }
                earliest[email] = event
            }
            for (visitor, email) in emailOf { personFirst[visitor] = earliest[email] }
        }
        var groups: [[String]: Sums] = [:]
        for (visitor, list) in byVisitor {
            let sorted = list.sorted { $0.timestamp < $1.timestamp }
            let (visitOfEvent, firstOfVisit, _) = visits(sorted)
            let history = historyOf[visitor]!.sorted { $0.timestamp < $1.timestamp }
            let (historyVisitOf, historyFirst, historyOrder) = visits(history)
            for (event, visit) in zip(sorted, visitOfEvent) {
                var first = firstOfVisit[visit]!
                if let model = query.attribution, event.event == "purchase" || event.event == "goal_achieved" {
                    let own = historyVisitOf[history.firstIndex(of: event)!]
                    let direct = { (visit: String) in value(.visitSource, historyFirst[visit]!, historyFirst[visit]!) == "Direct / None" }
                    switch model {
                    case .firstTouch:
                        first = personFirst[visitor] ?? historyFirst[historyOrder[0]]!
                    case .lastTouch:
                        let position = historyOrder.firstIndex(of: own)!
                        let credited = direct(own) ? (historyOrder[..<position].last { !direct($0) } ?? own) : own
                        first = historyFirst[credited]!
                    }
                }
                let holds = query.filters.map { matches($0, value($0.dimension, event, first, timezone: query.timezone.name)) }
                guard query.filterTree.map({ evaluate($0, holds) }) ?? !holds.contains(false) else { continue }
                let key = query.dimensions.map { value($0, event, first, timezone: query.timezone.name) }
                var sums = groups[key] ?? Sums()
                sums.visitors.insert(visitor)
                sums.visits["\(visitor)|\(visit)", default: []].append(event)
                sums.events += 1
                if event.event == "page_view" { sums.pageviews += 1 }
                if event.event == "purchase" || event.event == "goal_achieved" {
                    sums.conversions += 1
                    sums.converting.insert(visitor)
                }
                if event.event == "purchase", let amount = amount(event) {
                    sums.revenue[property("currency", event) ?? "unknown", default: 0] += amount
                }
                groups[key] = sums
            }
        }
        if query.dimensions.isEmpty && groups.isEmpty { groups[[]] = Sums() }
        return groups.mapValues { sums in
            let visits = sums.visits.values
            let bounced = visits.filter { $0.count == 1 && $0[0].event == "page_view" }.count
            // Summed in whole milliseconds: a sum of seconds as doubles can miss a mean ending in exactly .x5.
            let duration = Double(visits.reduce(Int64(0)) { total, events in
                total + events.map(\.timestamp).max()! - events.map(\.timestamp).min()!
            }) / 1000
            func rate(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : round1(100 * Double(a) / Double(b)) }
            return query.metrics.map { metric -> MetricValue in
                switch metric {
                case .visitors: .count(sums.visitors.count)
                case .visits: .count(visits.count)
                case .pageviews: .count(sums.pageviews)
                case .events: .count(sums.events)
                case .conversions: .count(sums.conversions)
                case .bounce_rate: .decimal(rate(bounced, visits.count))
                case .visit_duration: .decimal(visits.isEmpty ? 0 : round1(duration / Double(visits.count)))
                case .conversion_rate: .decimal(rate(sums.converting.count, sums.visitors.count))
                case .total_revenue: .money(sums.revenue)
                case .views_per_visit: .decimal(visits.isEmpty ? 0 : (100 * Double(sums.pageviews) / Double(visits.count)).rounded(.toNearestOrAwayFromZero) / 100)
                }
            }
        }
    }

    static func matches(_ filter: Query.Filter, _ value: String) -> Bool {
        if !filter.caseSensitive {
            // Foundation's case-insensitive comparisons, and ICU's for patterns.
            let found = { (text: String, options: String.CompareOptions) in value.range(of: text, options: options.union(.caseInsensitive)) != nil }
            let equal = filter.values.contains { value.compare($0, options: .caseInsensitive) == .orderedSame }
            return switch filter.op {
            case .is: equal
            case .is_not: !equal
            case .contains: filter.values.contains { found($0, []) }
            case .contains_not: !filter.values.contains { found($0, []) }
            case .matches: filter.values.contains { found($0, .regularExpression) }
            case .matches_not: !filter.values.contains { found($0, .regularExpression) }
            }
        }
        return switch filter.op {
        case .is: filter.values.contains(value)
        case .is_not: !filter.values.contains(value)
        case .contains: filter.values.contains { value.contains($0) }
        case .contains_not: !filter.values.contains { value.contains($0) }
        // ICU's regular expressions (a backtracking engine; the tests' patterns are small and tame).
        case .matches: filter.values.contains { value.range(of: $0, options: .regularExpression) != nil }
        case .matches_not: !filter.values.contains { value.range(of: $0, options: .regularExpression) != nil }
        }
    }

    static func evaluate(_ tree: Query.FilterTree, _ holds: [Bool]) -> Bool {
        switch tree {
        case .filter(let index): holds[index]
        case .and(let trees): trees.allSatisfy { evaluate($0, holds) }
        case .or(let trees): trees.contains { evaluate($0, holds) }
        case .not(let tree): !evaluate(tree, holds)
        }
    }

    /// Visits of one visitor's events in time order: each event's visit, each visit's first event, visits in order.
    static func visits(_ sorted: [EventRecord]) -> ([String], [String: EventRecord], [String]) {
        var visitOfEvent: [String] = []
        var firstOfVisit: [String: EventRecord] = [:]
        var order: [String] = []
        var anonymousCount = 0
        var lastAnonymous: Int64? = nil
        for event in sorted {
            let visit: String
            if !event.sessionID.isEmpty {
                visit = "s:" + event.sessionID
            } else {
                if let last = lastAnonymous, event.timestamp - last <= 30 * 60 * 1000 {} else { anonymousCount += 1 }
                lastAnonymous = event.timestamp
                visit = "a:\(anonymousCount)"
            }
            visitOfEvent.append(visit)
            if firstOfVisit[visit] == nil {
                firstOfVisit[visit] = event
                order.append(visit)
            }
        }
        return (visitOfEvent, firstOfVisit, order)
    }

    static func round1(_ x: Double) -> Double { (x * 10).rounded(.toNearestOrAwayFromZero) / 10 }

    static func property(_ key: String, _ event: EventRecord) -> String? {
        guard !event.properties.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(event.properties.utf8)) as? [String: Any],
              let value = object[key] else { return nil }
        if let string = value as? String { return string }
        // Numbers as written: find the raw text after the key.
        guard let range = event.properties.range(of: "\"\(key)\":") else { return "\(value)" }
        let rest = event.properties[range.upperBound...].drop { $0 == " " }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    /// The purchase's `amount` when JSONSerialization reads it as a number (not a string, not a boolean)
    /// that is finite; a number too large for a Double makes JSONSerialization refuse the whole object.
    static func amount(_ event: EventRecord) -> Double? {
        guard !event.properties.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(event.properties.utf8)) as? [String: Any],
              let number = object["amount"] as? NSNumber, !(object["amount"] is String),
              String(cString: number.objCType) != "c"
        else { return nil }
        return number.doubleValue.isFinite ? number.doubleValue : nil
    }

    /// A time bucket's label from Foundation's calendar in the zone: the local hour with its UTC offset (`Z` for
    /// zero), the local date, the ISO week's Monday, or the month.
    public static func timeLabel(_ timestamp: Int64, _ bucket: Query.TimeBucket, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(timestamp) / 1000)
        func text(_ date: Date, _ components: Set<Calendar.Component>) -> String {
            let c = calendar.dateComponents(components, from: date)
            return [c.year, c.month, c.day].compactMap { $0 }.enumerated()
                .map { $0.offset == 0 ? String(format: "%04d", $0.element) : String(format: "%02d", $0.element) }
                .joined(separator: "-")
        }
        switch bucket {
        case .hour:
            let offset = zone.secondsFromGMT(for: date)
            let suffix = offset == 0 ? "Z" : String(format: "%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) / 60 % 60)
            return text(date, [.year, .month, .day]) + String(format: "T%02d:00:00", calendar.component(.hour, from: date)) + suffix
        case .day: return text(date, [.year, .month, .day])
        case .month: return text(date, [.year, .month])
        case .week: return text(calendar.dateInterval(of: .weekOfYear, for: date)!.start, [.year, .month, .day])
        }
    }

    static func value(_ dimension: Query.Dimension, _ event: EventRecord, _ first: EventRecord, timezone: String = "UTC") -> String {
        let url = URLComponents(string: event.url)
        let firstURL = URLComponents(string: first.url)
        switch dimension {
        case .time(let bucket):
            return timeLabel(event.timestamp, bucket, zone: TimeZone(identifier: timezone)!)
        case .eventName: return event.event
        case .eventPage: return url?.percentEncodedPath ?? ""
        case .eventHostname: return url?.host?.lowercased() ?? ""
        case .eventProperty(let key): return property(key, event) ?? "(none)"
        case .visitEntryPage: return firstURL?.percentEncodedPath ?? ""
        case .visitSource:
            return ReferenceChannels.source(utmSource: utm("utm_source", firstURL), referrer: URLComponents(string: first.referrer),
                                            external: externalReferrerHost(first) != nil)
        case .visitChannel:
            return ReferenceChannels.channel(url: firstURL, referrer: URLComponents(string: first.referrer),
                                             external: externalReferrerHost(first) != nil)
        case .visitReferrer: return externalReferrerHost(first) == nil ? "Direct / None" : first.referrer
        case .visitUTMSource: return utm("utm_source", firstURL) ?? "(none)"
        case .visitUTMMedium: return utm("utm_medium", firstURL) ?? "(none)"
        case .visitUTMCampaign: return utm("utm_campaign", firstURL) ?? "(none)"
        case .visitBrowser: return UserAgent(first.userAgent).browser
        case .visitOS: return UserAgent(first.userAgent).os
        case .visitDevice: return UserAgent(first.userAgent).device
        case .visitCountry: return first.country
        case .visitRegion: return first.region
        case .visitCity: return first.city
        }
    }

    static func utm(_ name: String, _ url: URLComponents?) -> String? {
        url?.queryItems?.first { $0.name == name }.map { $0.value ?? "" }
    }

    static func externalReferrerHost(_ event: EventRecord) -> String? {
        guard let host = URLComponents(string: event.referrer)?.host?.lowercased(), !host.isEmpty,
              host != URLComponents(string: event.url)?.host?.lowercased() else { return nil }
        return host
    }
}
