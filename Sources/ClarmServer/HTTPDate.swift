import Glibc

/// The `Date` header line (RFC 9110 §5.6.7, IMF-fixdate), formatted once per second.
struct HTTPDate {
    private(set) var line: [UInt8] = Array("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n".utf8)
    private var second: Int = -1

    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func update(wallClockSeconds now: Int) {
        guard now != second else { return }
        second = now
        var t = time_t(now)
        var parts = tm()
        gmtime_r(&t, &parts)
        var i = 6
        func put(_ s: StaticString) {
            s.withUTF8Buffer { for c in $0 { line[i] = c; i += 1 } }
        }
        func put2(_ v: Int32) {
            line[i] = UInt8(v / 10) + 0x30
            line[i + 1] = UInt8(v % 10) + 0x30
            i += 2
        }
        put(Self.days[Int(parts.tm_wday)]); put(", ")
        put2(parts.tm_mday); put(" ")
        put(Self.months[Int(parts.tm_mon)]); put(" ")
        let year = Int32(parts.tm_year) + 1900
        put2(year / 100); put2(year % 100); put(" ")
        put2(parts.tm_hour); put(":"); put2(parts.tm_min); put(":"); put2(parts.tm_sec)
    }
}
