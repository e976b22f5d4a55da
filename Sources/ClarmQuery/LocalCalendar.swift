import ClarmEvents

/// A zone's wall-clock calendar over a span of instants, for bucketing many rows: the offset changes within the
/// span (a handful) are computed once, and each row finds its offset by comparing its instant with them.
///
/// Bucket keys: an hour is keyed by the instant its local hour starts (the repeated hour of a fall-back is two
/// buckets); a day, week or month by the wall-clock milliseconds of its local start (days since 1970 × 86,400,000).
struct LocalCalendar {
    let zone: TimeZoneRules
    /// Instants (UTC milliseconds) inside the span where the offset changes, ascending.
    private let changes: [Int64]
    /// Offsets in milliseconds: `offsets[0]` before `changes[0]`, `offsets[i + 1]` from `changes[i]` on.
    private let offsets: [Int64]

    static let hour: Int64 = 3_600_000, day: Int64 = 86_400_000
    /// Instants outside years 0001…9999 are bucketed as if at these ends, so a span never has more than
    /// 2 changes a year to precompute.
    static let earliest: Int64 = -62_135_596_800_000, latest: Int64 = 253_402_300_799_999

    init(zone: TimeZoneRules, from: Int64, to: Int64) {
        self.zone = zone
        let from = Self.clamp(from) / 1000 - 1, to = Self.clamp(to) / 1000 + 1
        let found = from < to ? zone.changes(after: from, before: to) : []
        changes = found.map { $0.at * 1000 }
        offsets = [Int64(zone.offset(atSecond: from)) * 1000] + found.map { Int64($0.offset) * 1000 }
    }

    /// The UTC offset (milliseconds) at an instant of the span.
    @inline(__always)
    func offset(at t: Int64) -> Int64 {
        if changes.isEmpty { return offsets[0] }
        var low = 0, high = changes.count
        while low < high {
            let mid = (low + high) / 2
            if changes[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return offsets[low]
    }

    func bucket(of t: Int64, _ bucket: Query.TimeBucket) -> Int64 {
        let t = Self.clamp(t)
        let offset = offset(at: t), wall = t + offset
        switch bucket {
        case .hour: return Self.floor(wall, Self.hour) - offset
        case .day: return Self.floor(wall, Self.day)
        case .week:
            // 1970-01-01 was a Thursday; weeks start on Monday (ISO 8601).
            return Self.floor(wall - 4 * Self.day, 7 * Self.day) + 4 * Self.day
        case .month:
            let (y, m, _) = Timestamp.civilFromDays(Int(Self.floor(wall, Self.day) / Self.day))
            return Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * Self.day
        }
    }

    /// The answer's text for a bucket key: `2026-10-25T02:00:00+02:00` for an hour (the offset tells the two
    /// hours of a fall-back apart; an offset of zero is written `Z`), `2026-10-25` for a day or week, `2026-10` for a month.
    func label(_ key: Int64, _ bucket: Query.TimeBucket) -> String {
        switch bucket {
        case .hour:
            let offset = offset(at: key)
            return String(Timestamp.format(key + offset).prefix(19)) + Self.offsetText(offset)
        case .day, .week: return String(Timestamp.format(key).prefix(10))
        case .month: return String(Timestamp.format(key).prefix(7))
        }
    }

    /// The instant an hour label names (labels carry their offset), without copying the text.
    static func instant(ofHourLabel label: String) -> Int64 {
        var label = label
        return label.withUTF8 { Timestamp.parse(UnsafeRawBufferPointer($0)) } ?? 0
    }

    /// `Z`, or `+05:30` / `-08:00`.
    static func offsetText(_ milliseconds: Int64) -> String {
        if milliseconds == 0 { return "Z" }
        let minutes = abs(milliseconds) / 60_000
        let hh = minutes / 60, mm = minutes % 60
        return (milliseconds < 0 ? "-" : "+") + (hh < 10 ? "0" : "") + "\(hh):" + (mm < 10 ? "0" : "") + "\(mm)"
    }

    static func floor(_ value: Int64, _ unit: Int64) -> Int64 {
        value >= 0 ? value - value % unit : value - ((value % unit) + unit) % unit
    }

    static func clamp(_ t: Int64) -> Int64 { min(max(t, earliest), latest) }
}

extension TimeZoneRules {
    /// The local date (days since 1970-01-01) at an instant (UTC milliseconds).
    public func localDay(at t: Int64) -> Int {
        let t = LocalCalendar.clamp(t)
        return Int(LocalCalendar.floor(t + Int64(offset(atSecond: LocalCalendar.floor(t, 1000) / 1000)) * 1000, LocalCalendar.day) / LocalCalendar.day)
    }

    /// The instant (UTC milliseconds) a local day starts: its midnight, or when midnight is skipped by a change
    /// (as in America/Santiago), the instant of that change; when midnight happens twice, the first.
    public func startOfLocalDay(_ day: Int) -> Int64 {
        instant(ofWallClock: Int64(day) * LocalCalendar.day)
    }

    /// The first instant whose wall-clock time is `wall` (milliseconds); a wall time skipped by a change reads
    /// with the offset before it, landing just as far past the change.
    func instant(ofWallClock wall: Int64) -> Int64 {
        let second = LocalCalendar.floor(wall, 1000) / 1000
        let before = Int64(offset(atSecond: second - 86_400)) * 1000, after = Int64(offset(atSecond: second + 86_400)) * 1000
        let candidates = [wall - before, wall - after].sorted()
        for t in candidates where wall - t == Int64(offset(atSecond: LocalCalendar.floor(t, 1000) / 1000)) * 1000 {
            return t
        }
        return wall - before
    }
}
