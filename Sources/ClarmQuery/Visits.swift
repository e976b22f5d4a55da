import ClarmEvents
import ClarmStorage

/// How a visitor's events form visits (docs/QUERIES.md, step 3).
enum Visits {
    /// A visit without a session id ends after this much inactivity of its visitor.
    static let gap: Int64 = 30 * 60 * 1000

    /// Assigns each row of one visitor, in time order, to a visit: `visitOf[i]` is the visit of
    /// `rows[rows.startIndex + i]`, and `firsts[v]` the index (into `rows`' base) of visit `v`'s first row.
    static func assign(_ rows: ArraySlice<EventRow>, empty: UInt32, visitOf: inout [Int], firsts: inout [Int]) {
        visitOf.removeAll(keepingCapacity: true)
        firsts.removeAll(keepingCapacity: true)
        var lastAnonymous: (visit: Int, time: Int64)? = nil
        for i in rows.indices {
            let row = rows[i]
            let visit: Int
            if row.session != empty {
                // A visitor has few visits: finding the session among their first events beats a hash table.
                if let known = firsts.lastIndex(where: { rows[$0].session == row.session }) {
                    visit = known
                } else {
                    visit = firsts.count
                    firsts.append(i)
                }
            } else if let last = lastAnonymous, row.timestamp - last.time <= gap {
                visit = last.visit
                lastAnonymous = (visit, row.timestamp)
            } else {
                visit = firsts.count
                firsts.append(i)
                lastAnonymous = (visit, row.timestamp)
            }
            visitOf.append(visit)
        }
    }
}

/// What a visit's first event says about how the visitor arrived (docs/QUERIES.md, visit dimensions).
struct VisitAttributes {
    var entryPage: UInt32
    var source: String
    var referrer: String
    var utmSource: String
    var utmMedium: String
    var utmCampaign: String
    var agent: UserAgent

    static let direct = "Direct / None"

    init(first: EventRow, strings: ByteInterner, agents: inout [UInt32: UserAgent]) {
        let rest = strings.value(first.rest)
        let referrer = strings.string(first.referrer)
        let host = Self.host(strings.string(first.origin))
        let referrerHost = Self.host(referrer)
        let external = !referrerHost.isEmpty && referrerHost != host
        let utmSource = URLParts.queryParameter("utm_source", in: rest)
        entryPage = first.path
        source = utmSource.flatMap { $0.isEmpty ? nil : $0 }
            ?? (external ? (referrerHost.hasPrefix("www.") ? String(referrerHost.dropFirst(4)) : referrerHost) : Self.direct)
        self.referrer = external ? referrer : Self.direct
        self.utmSource = utmSource ?? "(none)"
        utmMedium = URLParts.queryParameter("utm_medium", in: rest) ?? "(none)"
        utmCampaign = URLParts.queryParameter("utm_campaign", in: rest) ?? "(none)"
        if let known = agents[first.userAgent] {
            agent = known
        } else {
            agent = UserAgent(strings.string(first.userAgent))
            agents[first.userAgent] = agent
        }
    }

    /// The lowercased host of a URL or origin, without port; empty when there is none.
    static func host(_ url: String) -> String {
        let bytes = Array(url.utf8)
        return bytes.withUnsafeBytes { raw in
            URLHost.find(in: raw).map { String(decoding: raw[$0], as: UTF8.self).lowercased() } ?? ""
        }
    }
}
