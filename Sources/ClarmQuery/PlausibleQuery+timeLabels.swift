/// `include.time_labels`: every bucket of the range in order, those without events too, as Plausible labels them.
extension PlausibleQuery {
    func bucketLabels() throws(QueryError) -> [String] {
        guard let bucket = time?.bucket else { return [] }
        let (from, to) = (query.from, query.to)
        let days = (to - from) / LocalCalendar.day + 1
        let estimate: Int64 = switch bucket {
        case .hour: (to - from) / LocalCalendar.hour
        case .day: days
        case .week: days / 7
        case .month: days / 31
        }
        guard estimate <= Int64(Self.maxTimeLabels) else {
            throw QueryError(field: "#/include/time_labels", problem: "The range has too many \(bucket.rawValue)s to label: at most \(Self.maxTimeLabels)")
        }
        let calendar = LocalCalendar(zone: query.timezone, from: from, to: to)
        var labels: [String] = []
        var last: Int64? = nil
        func add(_ t: Int64) {
            let key = calendar.bucket(of: t, bucket)
            if key != last { labels.append(PlausibleResponse.label(calendar.label(key, bucket), bucket)) }
            last = key
        }
        if bucket == .hour {
            // Every local hour lasts at least 30 minutes (Lord Howe's changes are the shortest), so 15-minute
            // steps meet each one.
            var t = from
            while t < to { add(t); t += 15 * 60_000 }
        } else {
            let zone = query.timezone
            for day in zone.localDay(at: from)...zone.localDay(at: to - 1) { add(max(from, zone.startOfLocalDay(day))) }
        }
        return labels
    }
}
