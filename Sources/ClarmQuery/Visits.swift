import ClarmEvents
import ClarmStorage

/// How a visitor's events form visits (docs/QUERIES.md, step 3), in time linear in the rows whatever the ids.
struct Visits {
    /// A visit without a session id ends after this much inactivity of its visitor.
    static let gap: Int64 = 30 * 60 * 1000

    /// `visitOf[i]`: the visit of the `i`th row of the last `assign`.
    private(set) var visitOf: [Int] = []
    /// `firsts[v]`: the index (into the rows' base) of visit `v`'s first row.
    private(set) var firsts: [Int] = []
    /// The visit of each session id (an id of the scan's strings) during one `assign`, -1 for none: a direct
    /// table, so one visitor with many sessions costs one lookup per row, and no id can collide.
    private var visitOfSession: [Int32] = []

    /// Assigns each row of one visitor, in time order, to a visit.
    mutating func assign(_ rows: ArraySlice<EventRow>, empty: UInt32) {
        visitOf.removeAll(keepingCapacity: true)
        firsts.removeAll(keepingCapacity: true)
        var lastAnonymous: (visit: Int, time: Int64)? = nil
        for i in rows.indices {
            let row = rows[i]
            let visit: Int
            if row.session != empty {
                let session = Int(row.session)
                if session >= visitOfSession.count {
                    visitOfSession.append(contentsOf: repeatElement(-1, count: session + 1 - visitOfSession.count))
                }
                if visitOfSession[session] >= 0 {
                    visit = Int(visitOfSession[session])
                } else {
                    visit = firsts.count
                    firsts.append(i)
                    visitOfSession[session] = Int32(visit)
                }
            } else if let last = lastAnonymous, row.timestamp - last.time <= Self.gap {
                visit = last.visit
                lastAnonymous = (visit, row.timestamp)
            } else {
                visit = firsts.count
                firsts.append(i)
                lastAnonymous = (visit, row.timestamp)
            }
            visitOf.append(visit)
        }
        // Clear only what this visitor set, so the next one starts from an empty table at no cost.
        for first in firsts where rows[first].session != empty { visitOfSession[Int(rows[first].session)] = -1 }
    }

    /// For each visit, the visit last-touch attribution credits (docs/QUERIES.md): itself when `sourced`
    /// (it did not come direct), else the latest earlier sourced visit, else itself.
    static func lastTouch(sourced: [Bool], into credited: inout [Int]) {
        credited.removeAll(keepingCapacity: true)
        var latest: Int? = nil
        for (visit, hasSource) in sourced.enumerated() {
            if hasSource { latest = visit }
            credited.append(latest ?? visit)
        }
    }
}

/// What a visit's first event says about how the visitor arrived (docs/QUERIES.md, visit dimensions).
struct VisitAttributes {
    var entryPage: UInt32
    var source: String
    var channel: String
    var referrer: String
    var utmSource: String
    var utmMedium: String
    var utmCampaign: String
    var agent: UserAgent

    static let direct = "Direct / None"

    init(first: EventRow, strings: ByteInterner, agents: inout [UInt32: UserAgent]) {
        let list = ReferrerList.embedded
        let rest = strings.value(first.rest)
        let referrer = strings.string(first.referrer)
        let host = Self.host(strings.string(first.origin))
        let referrerHost = Self.host(referrer)
        let external = !referrerHost.isEmpty && referrerHost != host
        let utmSource = URLParts.queryParameter("utm_source", in: rest)
        let utmMedium = URLParts.queryParameter("utm_medium", in: rest)
        // Looked up once per visit (and once per distinct first event in a query), never per row.
        let listed = external ? list.entry(host: referrerHost[...], path: Self.path(referrer)) : nil
        entryPage = first.path
        source = utmSource.flatMap { $0.isEmpty ? nil : $0 }
            ?? listed?.name
            ?? (external ? (referrerHost.hasPrefix("www.") ? String(referrerHost.dropFirst(4)) : referrerHost) : Self.direct)
        channel = Channel.of(
            utmSource: utmSource, utmMedium: utmMedium,
            adClick: Channel.adClickIDs.contains { URLParts.queryParameter($0, in: rest).map { !$0.isEmpty } ?? false },
            referrer: listed, externalReferrer: external, list: list)
        self.referrer = external ? referrer : Self.direct
        self.utmSource = utmSource ?? "(none)"
        self.utmMedium = utmMedium ?? "(none)"
        utmCampaign = URLParts.queryParameter("utm_campaign", in: rest) ?? "(none)"
        if let known = agents[first.userAgent] {
            agent = known
        } else {
            agent = UserAgent(strings.string(first.userAgent))
            agents[first.userAgent] = agent
        }
    }

    /// The path of an absolute URL, without query or fragment; empty when there is none.
    static func path(_ url: String) -> Substring {
        let bytes = Array(url.utf8)
        let path = bytes.withUnsafeBytes { URLParts($0).path }
        guard bytes.withUnsafeBytes({ URLHost.find(in: $0) }) != nil else { return "" }
        return String(decoding: bytes[path], as: UTF8.self)[...]
    }

    /// The lowercased host of a URL or origin, without port; empty when there is none.
    static func host(_ url: String) -> String {
        let bytes = Array(url.utf8)
        return bytes.withUnsafeBytes { raw in
            URLHost.find(in: raw).map { String(decoding: raw[$0], as: UTF8.self).lowercased() } ?? ""
        }
    }
}
