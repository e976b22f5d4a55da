import ClarmEvents
import ClarmJSON

/// Plausible's `date_range`: a name, or two dates or two instants, both ends included. Days are the query's
/// zone's; every named range ends with today.
extension PlausibleQuery {
    static func dateRange(_ value: JSONValue, now: Int64, zone: TimeZoneRules) throws(QueryError) -> (from: Int64, to: Int64) {
        let today = zone.localDay(at: now)
        let endOfToday = zone.startOfLocalDay(today + 1)
        let (year, month, _) = Timestamp.civilFromDays(today)
        /// The first day of the month `back` months before this one.
        func monthStart(back: Int) -> Int64 {
            let index = year * 12 + (month - 1) - back
            return zone.startOfLocalDay(Timestamp.daysFromCivil(year: index / 12, month: index % 12 + 1, day: 1))
        }
        switch value {
        case .string("day"): return (zone.startOfLocalDay(today), endOfToday)
        case .string("7d"): return (zone.startOfLocalDay(today - 6), endOfToday)
        case .string("28d"): return (zone.startOfLocalDay(today - 27), endOfToday)
        case .string("30d"): return (zone.startOfLocalDay(today - 29), endOfToday)
        case .string("91d"): return (zone.startOfLocalDay(today - 90), endOfToday)
        case .string("month"): return (monthStart(back: 0), endOfToday)
        case .string("6mo"): return (monthStart(back: 5), endOfToday)
        case .string("12mo"): return (monthStart(back: 11), endOfToday)
        case .string("year"): return (zone.startOfLocalDay(Timestamp.daysFromCivil(year: year, month: 1, day: 1)), endOfToday)
        case .string("all"): return (Int64.min, Int64.max)
        case .array(let ends) where ends.count == 2:
            guard let first = ends[0].string, let last = ends[1].string else { break }
            let from: Int64, to: Int64
            if first.utf8.count == 10 && last.utf8.count == 10 {
                // Dates: from the first's local midnight to the end of the last day.
                guard let a = Query.instant(first, zone: .utc), let b = Query.instant(last, zone: .utc) else { break }
                from = zone.startOfLocalDay(Int(a / LocalCalendar.day))
                to = zone.startOfLocalDay(Int(b / LocalCalendar.day) + 1)
            } else if first.utf8.count > 10 && last.utf8.count > 10 {
                // Instants with their offsets, the last second included.
                guard let a = Query.instant(first, zone: zone), let b = Query.instant(last, zone: zone) else { break }
                from = a
                to = LocalCalendar.floor(b, 1000) + 1000
            } else {
                break
            }
            guard Query.writableInstants.contains(from), Query.writableInstants.contains(to) else {
                throw QueryError(field: "#/date_range", problem: "Invalid date_range: each end must fall in years 0000-9999")
            }
            guard from < to else {
                throw QueryError(field: "#/date_range", problem: "Invalid date_range: the start must not come after the end")
            }
            return (from, to)
        default: break
        }
        throw QueryError(field: "#/date_range", problem: "Invalid date_range \(describe(value)): expected \"day\", \"7d\", \"28d\", \"30d\", \"91d\", \"month\", \"6mo\", \"12mo\", \"year\", \"all\", two dates [\"2024-01-01\", \"2024-01-31\"] or two ISO 8601 instants with offsets")
    }

    private static func describe(_ value: JSONValue) -> String {
        var json = JSONWriter(capacity: 64)
        PlausibleResponse.write(value, into: &json)
        let text = String(decoding: json.bytes.prefix(100), as: UTF8.self)
        return json.bytes.count > 100 ? text + "…" : text
    }
}
