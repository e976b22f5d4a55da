import ClarmStorage

extension ShardAggregation {
    /// One shard's groups for `query`, over the rows `selection` picks.
    ///
    /// With `streaming`, the visitors whose rows all lie in one segment (`VisitorPlaces`) are aggregated
    /// segment by segment, from the segment's own visitor and session ids, and their rows are let go with the
    /// segment; only the rows of visitors met in several places (and the memtables') are gathered, sorted by
    /// visitor and aggregated at the end. Without it every row is gathered first: the same answer, the way
    /// the tests check it.
    /// `personFirst` maps identified visitors to their person's first event (`attribution_scope: person`).
    static func run(_ query: Query, on shard: ShardSnapshot, _ selection: RowSelection, streaming: Bool,
                    personFirst: [[UInt8]: PersonFirstEvent] = [:]) throws(SegmentCorruption) -> [[String]: Accumulator] {
        let segments = ShardRows.segments(of: shard, selection)
        // When the scan keeps only some event names (say purchases) the rows are few: gathering them costs
        // less than hashing every visitor of every segment to find the local ones.
        // Crediting persons looks visitors up by their string id, which rows kept by segment ids do not carry.
        let streaming = streaming && selection.events == nil && personFirst.isEmpty
        let places = try VisitorPlaces(shard, segments: segments, site: selection.site, findingLocal: streaming)
        let bucketed = (query.dimensions + query.filters.map(\.dimension)).contains { if case .time = $0 { true } else { false } }
        // The calendar needs the offset changes among the instants of rows in range: the places' span bounds them.
        let calendar = bucketed
            ? LocalCalendar(zone: query.timezone, from: max(places.earliest, query.from), to: min(places.latest, query.to - 1))
            : LocalCalendar(zone: query.timezone, from: .max, to: .min)
        var aggregation = ShardAggregation(query: query, calendar: calendar)
        aggregation.credit(personFirst)
        let erased = shard.erased.visitors(site: selection.site)
        for (index, segment) in segments.enumerated() {
            if selection.control.stopped != nil { return [:] }
            aggregation.rows.localRows.removeAll(keepingCapacity: true)
            try aggregation.rows.read(segment, selection, erased: erased, local: streaming ? places.local[index] : nil)
            let local = aggregation.rows.localRows
            aggregation.add(visitorsIn: local[...])
        }
        aggregation.rows.readMemtables(of: shard, selection)
        QueryEngine.sortByVisitor(&aggregation.rows)
        let gathered = aggregation.rows.rows
        aggregation.add(visitorsIn: gathered[...])
        return aggregation.result()
    }
}
