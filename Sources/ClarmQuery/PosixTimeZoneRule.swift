import ClarmEvents

/// The POSIX `TZ` string of a TZif footer (RFC 8536 §3.3, POSIX.1 §8.3), such as
/// `CET-1CEST,M3.5.0,M10.5.0/3`: the offsets after a zone's last transition, for every later year.
struct PosixTimeZoneRule: Sendable, Equatable {
    /// Standard time's UTC offset, seconds east of Greenwich.
    let standardOffset: Int32
    /// Daylight saving time, when the zone has it.
    let daylight: Daylight?

    struct Daylight: Sendable, Equatable {
        let offset: Int32
        let start: Change
        let end: Change
    }

    /// When in a year daylight saving time starts or ends: a day, and a local time of that day in seconds
    /// (-167…167 hours, RFC 8536 §3.3.1).
    struct Change: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            /// `Jn`: day 1…365, February 29 never counted.
            case julianNoLeap(Int)
            /// `n`: day 0…365, February 29 counted.
            case zeroBased(Int)
            /// `Mm.w.d`: weekday d (0 = Sunday) of week w (1…5, 5 = the last) of month m.
            case monthWeekDay(month: Int, week: Int, weekday: Int)
        }
        let day: Day
        let time: Int
    }

    /// Parses the rule; nil when it is not a valid POSIX TZ string.
    init?(_ text: [UInt8]) {
        var reader = Reader(bytes: text)
        guard reader.name(), let standard = reader.offset(maxHours: 24) else { return nil }
        standardOffset = Int32(-standard)
        if reader.atEnd {
            daylight = nil
            return
        }
        guard reader.name() else { return nil }
        var daylightOffset = standard - 3600
        if !reader.atEnd && reader.peek != UInt8(ascii: ",") {
            guard let value = reader.offset(maxHours: 24) else { return nil }
            daylightOffset = value
        }
        // A zone with daylight time but no rule uses the US rule of 2007 (POSIX leaves it to the implementation).
        var start = Change(day: .monthWeekDay(month: 3, week: 2, weekday: 0), time: 7200)
        var end = Change(day: .monthWeekDay(month: 11, week: 1, weekday: 0), time: 7200)
        if !reader.atEnd {
            guard reader.take(UInt8(ascii: ",")), let first = reader.change(),
                  reader.take(UInt8(ascii: ",")), let second = reader.change(), reader.atEnd
            else { return nil }
            start = first
            end = second
        }
        daylight = Daylight(offset: Int32(-daylightOffset), start: start, end: end)
    }

    /// The UTC offset in seconds at an instant (UTC seconds).
    func offset(atSecond t: Int64) -> Int32 {
        guard let daylight else { return standardOffset }
        let year = Self.year(ofSecond: t + Int64(standardOffset))
        let start = instant(daylight.start, year: year, offsetBefore: standardOffset)
        let end = instant(daylight.end, year: year, offsetBefore: daylight.offset)
        let inDaylight = start < end ? (start <= t && t < end) : !(end <= t && t < start)
        return inDaylight ? daylight.offset : standardOffset
    }

    /// Instants (UTC seconds) where the offset changes in `year`, ascending, with the offset from then on.
    func changes(inYear year: Int) -> [(at: Int64, offset: Int32)] {
        guard let daylight else { return [] }
        let start = (at: instant(daylight.start, year: year, offsetBefore: standardOffset), offset: daylight.offset)
        let end = (at: instant(daylight.end, year: year, offsetBefore: daylight.offset), offset: standardOffset)
        return start.at < end.at ? [start, end] : [end, start]
    }

    /// The instant of a change in a year: the local time read with the offset in force before it.
    private func instant(_ change: Change, year: Int, offsetBefore: Int32) -> Int64 {
        let days: Int
        switch change.day {
        case .julianNoLeap(let n):
            let leapDay = Timestamp.isLeapYear(year) && n >= 60 ? 1 : 0
            days = Timestamp.daysFromCivil(year: year, month: 1, day: 1) + n - 1 + leapDay
        case .zeroBased(let n):
            days = Timestamp.daysFromCivil(year: year, month: 1, day: 1) + n
        case .monthWeekDay(let month, let week, let weekday):
            let first = Timestamp.daysFromCivil(year: year, month: month, day: 1)
            // 1970-01-01 was a Thursday (weekday 4).
            let firstWeekday = ((first + 4) % 7 + 7) % 7
            var day = 1 + (weekday - firstWeekday + 7) % 7 + 7 * (week - 1)
            let length = Timestamp.daysInMonth(year: year, month: month)
            while day > length { day -= 7 }
            days = first + day - 1
        }
        return Int64(days) * 86_400 + Int64(change.time) - Int64(offsetBefore)
    }

    /// The UTC calendar year of an instant (UTC seconds).
    static func year(ofSecond t: Int64) -> Int {
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        return Timestamp.civilFromDays(Int(days)).year
    }

    private struct Reader {
        let bytes: [UInt8]
        var i = 0

        var atEnd: Bool { i == bytes.count }
        var peek: UInt8 { bytes[i] }

        mutating func take(_ c: UInt8) -> Bool {
            guard !atEnd, bytes[i] == c else { return false }
            i += 1
            return true
        }

        /// A zone abbreviation: three or more letters, or `<…>` of letters, digits, + and -.
        mutating func name() -> Bool {
            let begin = i
            if take(UInt8(ascii: "<")) {
                while !atEnd, bytes[i] != UInt8(ascii: ">") {
                    let c = bytes[i]
                    guard isLetter(c) || (0x30...0x39).contains(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") else { return false }
                    i += 1
                }
                guard i - begin - 1 >= 3, take(UInt8(ascii: ">")) else { return false }
                return true
            }
            while !atEnd, isLetter(bytes[i]) { i += 1 }
            return i - begin >= 3
        }

        /// `[+-]hh[:mm[:ss]]` in seconds, as written (positive west of Greenwich for offsets).
        mutating func offset(maxHours: Int) -> Int? {
            var sign = 1
            if take(UInt8(ascii: "-")) { sign = -1 } else { _ = take(UInt8(ascii: "+")) }
            guard let hours = number(maxDigits: 3), hours <= maxHours else { return nil }
            var seconds = hours * 3600
            if take(UInt8(ascii: ":")) {
                guard let minutes = number(maxDigits: 2), minutes < 60 else { return nil }
                seconds += minutes * 60
                if take(UInt8(ascii: ":")) {
                    guard let s = number(maxDigits: 2), s < 60 else { return nil }
                    seconds += s
                }
            }
            return sign * seconds
        }

        /// `Jn`, `n` or `Mm.w.d`, then an optional `/time`.
        mutating func change() -> Change? {
            let day: Change.Day
            if take(UInt8(ascii: "J")) {
                guard let n = number(maxDigits: 3), (1...365).contains(n) else { return nil }
                day = .julianNoLeap(n)
            } else if take(UInt8(ascii: "M")) {
                guard let m = number(maxDigits: 2), (1...12).contains(m), take(UInt8(ascii: ".")),
                      let w = number(maxDigits: 1), (1...5).contains(w), take(UInt8(ascii: ".")),
                      let d = number(maxDigits: 1), (0...6).contains(d)
                else { return nil }
                day = .monthWeekDay(month: m, week: w, weekday: d)
            } else {
                guard let n = number(maxDigits: 3), (0...365).contains(n) else { return nil }
                day = .zeroBased(n)
            }
            var time = 7200
            if take(UInt8(ascii: "/")) {
                guard let value = offset(maxHours: 167) else { return nil }
                time = value
            }
            return Change(day: day, time: time)
        }

        private mutating func number(maxDigits: Int) -> Int? {
            var value = 0, count = 0
            while !atEnd, count < maxDigits, (0x30...0x39).contains(bytes[i]) {
                value = value * 10 + Int(bytes[i] - 0x30)
                i += 1
                count += 1
            }
            return count == 0 ? nil : value
        }

        private func isLetter(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c | 0x20) }
    }
}
