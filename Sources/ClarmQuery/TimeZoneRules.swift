import ClarmEvents

/// A time zone's UTC offsets over time, read from a TZif file (RFC 8536, versions 1–4).
///
/// Version 2+ files are read from their 64-bit block; after the last transition the footer's POSIX TZ rule
/// applies. Every count is checked against the file's length before it is used, so a damaged file is an
/// error, never a crash.
public struct TimeZoneRules: Sendable {
    public let name: String
    /// Instants (UTC seconds) where the offset changes, strictly ascending.
    let transitions: [Int64]
    /// The offset (seconds east of UTC) from each transition on.
    let offsetsAfter: [Int32]
    /// The offset before the first transition (local time type 0, RFC 8536 §3.2).
    let initialOffset: Int32
    /// The rule after the last transition; nil: the last offset stays.
    let footer: PosixTimeZoneRule?

    /// Offsets beyond ±26 hours are not local times (RFC 8536 §3.2 bounds them to -89999…93599 seconds).
    static let offsetBound: ClosedRange<Int32> = -89_999...93_599

    public static let utc = TimeZoneRules(name: "UTC", transitions: [], offsetsAfter: [], initialOffset: 0,
                                          footer: nil)

    init(name: String, transitions: [Int64], offsetsAfter: [Int32], initialOffset: Int32, footer: PosixTimeZoneRule?) {
        self.name = name
        self.transitions = transitions
        self.offsetsAfter = offsetsAfter
        self.initialOffset = initialOffset
        self.footer = footer
    }

    /// The UTC offset in seconds at an instant (UTC seconds).
    public func offset(atSecond t: Int64) -> Int32 {
        guard let last = transitions.last else { return footer?.offset(atSecond: t) ?? initialOffset }
        if t >= last { return footer?.offset(atSecond: t) ?? offsetsAfter[offsetsAfter.count - 1] }
        // The last transition at or before t.
        var low = 0, high = transitions.count
        while low < high {
            let mid = (low + high) / 2
            if transitions[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? initialOffset : offsetsAfter[low - 1]
    }

    /// Instants in `(from, to)` (UTC seconds) where the offset changes, ascending, each with the offset from then on.
    func changes(after from: Int64, before to: Int64) -> [(at: Int64, offset: Int32)] {
        var result: [(at: Int64, offset: Int32)] = []
        var previous = offset(atSecond: from)
        func add(_ at: Int64, _ offset: Int32) {
            guard at > from, at < to, offset != previous else { return }
            result.append((at, offset))
            previous = offset
        }
        for (at, offset) in zip(transitions, offsetsAfter) where at > from {
            if at >= to { break }
            add(at, offset)
        }
        if let footer, footer.daylight != nil, to > (transitions.last ?? .min) {
            let begin = max(from, transitions.last ?? from)
            let firstYear = PosixTimeZoneRule.year(ofSecond: begin) - 1, lastYear = PosixTimeZoneRule.year(ofSecond: to) + 1
            for year in firstYear...lastYear {
                for change in footer.changes(inYear: year) where change.at > begin { add(change.at, change.offset) }
            }
        }
        return result
    }
}

/// Why a TZif file cannot be read.
public struct TimeZoneFileError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension TimeZoneRules {
    /// The largest TZif file read; the database's files are a few kilobytes.
    public static let maxFileBytes = 64 * 1024

    /// Parses a TZif file.
    public static func parse(name: String, _ bytes: [UInt8]) throws(TimeZoneFileError) -> TimeZoneRules {
        guard bytes.count <= maxFileBytes else { throw TimeZoneFileError("larger than \(maxFileBytes) bytes") }
        var reader = TZifReader(bytes: bytes)
        let first = try reader.header()
        if first.version == 0 {
            let block = try reader.block(first, timeSize: 4)
            return try rules(name: name, block, footer: nil)
        }
        try reader.skip(first.blockLength(timeSize: 4))
        let second = try reader.header()
        let block = try reader.block(second, timeSize: 8)
        let footer = try reader.footer()
        return try rules(name: name, block, footer: footer)
    }

    private static func rules(name: String, _ block: TZifReader.Block, footer: PosixTimeZoneRule?) throws(TimeZoneFileError) -> TimeZoneRules {
        var transitions: [Int64] = [], offsets: [Int32] = []
        transitions.reserveCapacity(block.times.count)
        for (time, type) in zip(block.times, block.types) {
            guard Int(type) < block.offsets.count else { throw TimeZoneFileError("transition type \(type) out of range") }
            if let last = transitions.last, time <= last { throw TimeZoneFileError("transition times not ascending") }
            transitions.append(time)
            offsets.append(block.offsets[Int(type)])
        }
        return TimeZoneRules(name: name, transitions: transitions, offsetsAfter: offsets,
                             initialOffset: block.offsets[0], footer: footer)
    }
}

/// Reads the parts of a TZif file, bounds-checked.
private struct TZifReader {
    let bytes: [UInt8]
    var i = 0

    struct Header {
        var version: UInt8
        var isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int

        func blockLength(timeSize: Int) -> Int {
            timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt
        }
    }

    struct Block {
        var times: [Int64] = []
        var types: [UInt8] = []
        var offsets: [Int32] = []
    }

    mutating func header() throws(TimeZoneFileError) -> Header {
        guard bytes.count - i >= 44 else { throw TimeZoneFileError("truncated header") }
        guard bytes[i..<i + 4].elementsEqual("TZif".utf8) else { throw TimeZoneFileError("not a TZif file") }
        let version = bytes[i + 4]
        guard version == 0 || (UInt8(ascii: "2")...UInt8(ascii: "4")).contains(version) else {
            throw TimeZoneFileError("unknown version \(version)")
        }
        i += 20
        var counts: [Int] = []
        for _ in 0..<6 { counts.append(Int(UInt32(truncatingIfNeeded: integer(4)))) }
        let header = Header(version: version, isutcnt: counts[0], isstdcnt: counts[1], leapcnt: counts[2],
                            timecnt: counts[3], typecnt: counts[4], charcnt: counts[5])
        // Each count is bounded by the file's length, so the block length below cannot overflow.
        guard counts.allSatisfy({ $0 <= TimeZoneRules.maxFileBytes }) else { throw TimeZoneFileError("count larger than the file") }
        guard header.typecnt >= 1 else { throw TimeZoneFileError("no local time types") }
        guard header.charcnt >= 1 else { throw TimeZoneFileError("no time zone designations") }
        guard header.isutcnt == 0 || header.isutcnt == header.typecnt,
              header.isstdcnt == 0 || header.isstdcnt == header.typecnt
        else { throw TimeZoneFileError("indicator counts differ from the type count") }
        // Leap-second zones ("right/…") count TAI-like seconds; queries use POSIX time.
        guard header.leapcnt == 0 else { throw TimeZoneFileError("leap second records are not supported") }
        return header
    }

    mutating func skip(_ count: Int) throws(TimeZoneFileError) {
        guard bytes.count - i >= count else { throw TimeZoneFileError("truncated data block") }
        i += count
    }

    mutating func block(_ header: Header, timeSize: Int) throws(TimeZoneFileError) -> Block {
        guard bytes.count - i >= header.blockLength(timeSize: timeSize) else { throw TimeZoneFileError("truncated data block") }
        var block = Block()
        block.times.reserveCapacity(header.timecnt)
        for _ in 0..<header.timecnt { block.times.append(integer(timeSize)) }
        block.types = Array(bytes[i..<i + header.timecnt])
        i += header.timecnt
        for _ in 0..<header.typecnt {
            let offset = Int32(truncatingIfNeeded: integer(4))
            let isDaylight = bytes[i], designation = Int(bytes[i + 1])
            i += 2
            guard TimeZoneRules.offsetBound.contains(offset) else { throw TimeZoneFileError("UTC offset \(offset) s out of range") }
            guard isDaylight <= 1 else { throw TimeZoneFileError("daylight flag \(isDaylight) is not 0 or 1") }
            guard designation < header.charcnt else { throw TimeZoneFileError("designation index out of range") }
            block.offsets.append(offset)
        }
        i += header.charcnt + header.isstdcnt + header.isutcnt
        return block
    }

    /// `\n<POSIX TZ string>\n`; an empty string means no rule.
    mutating func footer() throws(TimeZoneFileError) -> PosixTimeZoneRule? {
        guard i < bytes.count, bytes[i] == 0x0A else { throw TimeZoneFileError("missing footer") }
        guard let end = bytes[(i + 1)...].firstIndex(of: 0x0A) else { throw TimeZoneFileError("unterminated footer") }
        let text = Array(bytes[(i + 1)..<end])
        i = end + 1
        if text.isEmpty { return nil }
        guard let rule = PosixTimeZoneRule(text) else {
            throw TimeZoneFileError("footer \(String(decoding: text.prefix(64), as: UTF8.self).debugDescription) is not a POSIX TZ rule")
        }
        return rule
    }

    /// A big-endian two's-complement integer of `size` bytes; the caller has checked the length.
    private mutating func integer(_ size: Int) -> Int64 {
        var value: UInt64 = 0
        for k in 0..<size { value = value << 8 | UInt64(bytes[i + k]) }
        i += size
        return size == 8 ? Int64(bitPattern: value) : Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
    }
}
