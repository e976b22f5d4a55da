import ClarmEvents
import ClarmStorage
import Synchronization

/// How many events each site holds and when its latest one happened, for the list of registered sites.
///
/// Segments never change, so each segment's per-site totals are computed once, from its `site` and
/// `timestamp` columns, and kept by path until the segment is gone (sealed, compacted away or expired).
/// A call then costs one pass over the segments sealed since the last call, plus the memtables, which the
/// seal threshold bounds.
public final class SiteActivity: Sendable {
    public struct Totals: Sendable, Equatable {
        public var events = 0
        /// The latest event timestamp, UTC milliseconds; nil with no events.
        public var lastEventAt: Int64? = nil

        public init(events: Int = 0, lastEventAt: Int64? = nil) {
            self.events = events
            self.lastEventAt = lastEventAt
        }

        mutating func add(_ other: Totals) {
            events += other.events
            if let time = other.lastEventAt { lastEventAt = max(lastEventAt ?? time, time) }
        }
    }

    private let segmentTotals = Mutex<[String: [String: Totals]]>([:])

    public init() {}

    /// Totals of `sites` (names as stored: lowercase) over what `shards` hold.
    public func totals(of sites: [String], in shards: [ShardSnapshot]) throws(SegmentCorruption) -> [String: Totals] {
        var result: [String: Totals] = [:]
        for site in sites { result[site] = Totals() }
        let live = Set(shards.flatMap { $0.segments.map(\.path) })
        for shard in shards {
            for segment in shard.segments {
                let perSite = try totals(of: segment)
                for site in sites { if let totals = perSite[site] { result[site]!.add(totals) } }
            }
            for memtable in shard.memtables {
                add(memtable, into: &result)
            }
        }
        segmentTotals.withLock { cache in cache = cache.filter { live.contains($0.key) } }
        return result
    }

    private func totals(of segment: Segment) throws(SegmentCorruption) -> [String: Totals] {
        if let cached = segmentTotals.withLock({ $0[segment.path] }) { return cached }
        let dictionary = try segment.dictionary(.site)
        var perID = [Totals](repeating: Totals(), count: dictionary.count)
        var ids: [UInt32] = []
        var times: [Int64] = []
        for block in 0..<segment.blockCount {
            try segment.ids(.site, block: block, into: &ids)
            try segment.timestamps(block: block, into: &times)
            for (id, time) in zip(ids, times) {
                perID[Int(id)].add(Totals(events: 1, lastEventAt: time))
            }
        }
        var perSite: [String: Totals] = [:]
        for (id, totals) in perID.enumerated() where totals.events > 0 {
            perSite[String(decoding: dictionary.value(id), as: UTF8.self), default: Totals()].add(totals)
        }
        segmentTotals.withLock { $0[segment.path] = perSite }
        return perSite
    }

    private func add(_ memtable: MemtableSnapshot, into result: inout [String: Totals]) {
        // Events of a site tend to come in runs (one batch, one site), so the name is decoded once per run.
        var previous: [UInt8] = []
        var previousSite: String? = nil
        memtable.forEachChunk { chunk in
            EventRecordView.forEach(in: chunk) { view in
                if !previous.elementsEqual(view.site) {
                    previous = Array(view.site)
                    let name = String(decoding: previous, as: UTF8.self)
                    previousSite = result[name] == nil ? nil : name
                }
                if let site = previousSite { result[site]!.add(Totals(events: 1, lastEventAt: view.timestamp)) }
            }
        }
    }
}
