import ClarmEvents
import ClarmHTTP
import ClarmServer
import ClarmSystem

/// One loop's copy of the registered sites, refreshed when the registry changes, and the buffers of the
/// per-event checks, reused from request to request.
struct SiteRules {
    var snapshot = SiteSnapshot.empty
    var version = -1
    /// Per accepted record of the current batch: whether it passed.
    var kept: [Bool] = []
    var keptCount = 0
    /// Per registered site: events of the current batch (reset after each batch through `touched`).
    var eventsPerSite: [Int] = []
    var touched: [Int] = []

    /// Whether the record at `ordinal` (counting accepted records of the batch) is to be stored.
    func keeps(_ ordinal: Int) -> Bool {
        kept.isEmpty || kept[ordinal]
    }
}

enum SiteCheckOutcome {
    case checked
    /// A site of the batch is over its event rate: nothing of the request is stored.
    case overLimit(site: String, retryAfter: Int)
}

extension Gateway {
    /// Checks every accepted event of `batch` against the registered sites: an unregistered site, or a
    /// browser request's `Origin` not among its site's origins, rejects the event alone (added to
    /// `rejections`, which stay in index order). Then takes each site's events from its bucket.
    /// With no site registered every site is accepted.
    func checkSites(_ request: HTTPRequest, rejections: inout [(index: Int, message: String)]) -> SiteCheckOutcome {
        let version = traffic.sites.version
        if version != siteRules.version {
            (siteRules.snapshot, siteRules.version) = traffic.sites.snapshot()
            siteRules.eventsPerSite = Array(repeating: 0, count: siteRules.snapshot.entries.count)
        }
        siteRules.kept.removeAll(keepingCapacity: true)
        siteRules.keptCount = batch.acceptedCount
        let snapshot = siteRules.snapshot
        guard !snapshot.isEmpty else { return .checked }

        let origin = request.header("origin")
        let rejectedBefore = rejections.count
        var index = 0
        var nextRejection = 0
        _ = batch.records.withUnsafeBytes { records in
            EventRecordView.forEach(in: records) { view in
                // Accepted records are in request order; their indexes are the ones the decoder did not reject.
                while nextRejection < rejectedBefore && rejections[nextRejection].index == index {
                    nextRejection += 1
                    index += 1
                }
                defer { index += 1 }
                guard let site = snapshot.find(view.site) else {
                    reject(index, "unknown site", &rejections)
                    return
                }
                if let origin, !snapshot.entries[site].allows(origin: origin) {
                    reject(index, "origin not allowed for site", &rejections)
                    return
                }
                siteRules.kept.append(true)
                if siteRules.eventsPerSite[site] == 0 { siteRules.touched.append(site) }
                siteRules.eventsPerSite[site] += 1
            }
        }
        if rejections.count > rejectedBefore { rejections.sort { $0.index < $1.index } }
        defer {
            for site in siteRules.touched { siteRules.eventsPerSite[site] = 0 }
            siteRules.touched.removeAll(keepingCapacity: true)
        }
        let now = monotonicMilliseconds()
        for (i, site) in siteRules.touched.enumerated() {
            let entry = snapshot.entries[site]
            if let retryAfter = entry.take(events: siteRules.eventsPerSite[site], now: now) {
                for earlier in siteRules.touched[..<i] {
                    snapshot.entries[earlier].refund(events: siteRules.eventsPerSite[earlier])
                }
                return .overLimit(site: entry.registration.site, retryAfter: retryAfter)
            }
        }
        return .checked
    }

    private func reject(_ index: Int, _ message: String, _ rejections: inout [(index: Int, message: String)]) {
        rejections.append((index, message))
        siteRules.kept.append(false)
        siteRules.keptCount -= 1
    }
}
