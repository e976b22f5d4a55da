import Foundation
import Testing
@testable import ClarmQuery

/// The TZif reader against Foundation's `TimeZone` (an independent reading of the same database), and
/// against damaged files.
@Suite struct TimeZoneRulesTests {
    static let zones = ["Europe/Berlin", "America/Los_Angeles", "Australia/Sydney", "Asia/Kolkata", "America/Santiago",
                        "Australia/Lord_Howe", "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns", "Europe/London",
                        "Asia/Tehran", "Pacific/Apia", "America/Havana", "Etc/GMT+5", "UTC", "Europe/Dublin"]

    @Test(arguments: zones)
    func offsetsMatchFoundation(zone: String) throws {
        let rules = try TimeZoneDatabase.system.rules(named: zone)
        let reference = try #require(TimeZone(identifier: zone))
        // Every 37 hours (every hour of the day in turn) from 1970 to 2060 (beyond the files' transitions, so the footer rules are exercised),
        // and a second on each side of every change.
        let start: Int64 = 0, end: Int64 = 2_840_140_800
        var instants = Array(stride(from: start, to: end, by: 37 * 3600))
        for change in rules.changes(after: start, before: end) { instants += [change.at - 1, change.at] }
        for t in instants {
            let expected = reference.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
            #expect(Int(rules.offset(atSecond: t)) == expected, "\(zone) at \(t)")
            if Int(rules.offset(atSecond: t)) != expected { return }
        }
    }

    @Test func changesAreTheInstantsWhereTheOffsetChanges() throws {
        let rules = try TimeZoneDatabase.system.rules(named: "Europe/Berlin")
        // 2026: 2026-03-29T01:00:00Z to +02:00, 2026-10-25T01:00:00Z back to +01:00.
        let changes = rules.changes(after: 1_767_225_600, before: 1_798_761_600)
        #expect(changes.map(\.at) == [1_774_746_000, 1_792_890_000])
        #expect(changes.map(\.offset) == [7200, 3600])
    }

    @Test func posixRules() throws {
        let berlin = try #require(PosixTimeZoneRule(Array("CET-1CEST,M3.5.0,M10.5.0/3".utf8)))
        #expect(berlin.standardOffset == 3600 && berlin.daylight?.offset == 7200)
        let kolkata = try #require(PosixTimeZoneRule(Array("IST-5:30".utf8)))
        #expect(kolkata.standardOffset == 19_800 && kolkata.daylight == nil)
        let quoted = try #require(PosixTimeZoneRule(Array("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1".utf8)))
        #expect(quoted.standardOffset == -10_800 && quoted.daylight?.start.time == -7200)
        let julian = try #require(PosixTimeZoneRule(Array("XXX3YYY,J60/2,300/25".utf8)))
        #expect(julian.daylight?.start.day == .julianNoLeap(60) && julian.daylight?.end.time == 90_000)
        for bad in ["", "CE", "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
                    "CET-1CEST,M3.5.7,M10.5.0", "CET-25", "<AB>1", "<+03", "CET-1CEST,J0,J365", "CET-1CEST,366,0",
                    "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1:60", "CET-1CEST,M3.5.0,M10.5.0,", "CET-1x"] {
            #expect(PosixTimeZoneRule(Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test func namesCannotLeaveTheDatabase() {
        for name in ["../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd", "Europe//Berlin", "", ".hidden",
                     "Europe/Berlin\0", "-rf", String(repeating: "A", count: 65)] {
            #expect(throws: TimeZoneFileError.self, "\(name)") { try TimeZoneDatabase.system.rules(named: name) }
        }
        #expect(throws: TimeZoneFileError.self) { try TimeZoneDatabase.system.rules(named: "Mars/Olympus") }
        // A directory, not a zone.
        #expect(throws: TimeZoneFileError.self) { try TimeZoneDatabase.system.rules(named: "Europe") }
    }

    /// Every truncation and many single-byte corruptions of real files: an error or a zone, never a crash.
    @Test(arguments: ["Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"])
    func damagedFilesAreErrors(zone: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/\(zone)")))
        for length in 0..<bytes.count {
            #expect(throws: TimeZoneFileError.self) { try TimeZoneRules.parse(name: zone, Array(bytes[..<length])) }
        }
        for position in 0..<bytes.count {
            for value: UInt8 in [0x00, 0xFF] where bytes[position] != value {
                var damaged = bytes
                damaged[position] = value
                if let rules = try? TimeZoneRules.parse(name: zone, damaged) {
                    // A zone that still parses answers every instant.
                    for t in stride(from: Int64(-4_000_000_000), to: 4_000_000_000, by: 500_000_000) { _ = rules.offset(atSecond: t) }
                    _ = rules.changes(after: 0, before: 2_000_000_000)
                }
            }
        }
        #expect(throws: TimeZoneFileError.self) { try TimeZoneRules.parse(name: zone, bytes + [UInt8](repeating: 0, count: TimeZoneRules.maxFileBytes)) }
    }

    @Test func damagedFileOnDiskIsAClearError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zones-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Berlin")))
        bytes[4] = UInt8(ascii: "9")
        try Data(bytes).write(to: directory.appendingPathComponent("Broken"))
        try Data(count: TimeZoneRules.maxFileBytes + 1).write(to: directory.appendingPathComponent("Huge"))
        let database = TimeZoneDatabase(directory: directory.path)
        #expect { try database.rules(named: "Broken") } throws: { "\($0)".contains("unknown version") }
        #expect { try database.rules(named: "Huge") } throws: { "\($0)".contains("larger than") }
    }
}

/// Instants at the ends of time cost no more than the years 1–9999 they are clamped to, and never trap.
@Suite struct LocalCalendarBoundsTests {
    @Test func extremeSpansAreBounded() throws {
        let berlin = try TimeZoneDatabase.system.rules(named: "Europe/Berlin")
        let calendar = LocalCalendar(zone: berlin, from: .min, to: .max)
        for t in [Int64.min, -62_135_596_800_001, 0, 253_402_300_800_000, .max] {
            for bucket in [Query.TimeBucket.hour, .day, .week, .month] {
                _ = calendar.label(calendar.bucket(of: t, bucket), bucket)
            }
            _ = berlin.localDay(at: t)
        }
        let range = try Query.parseRange(.array([.string("0001-01-01"), .string("9999-12-31")]), now: .max, zone: berlin)
        #expect(range.0 < range.1)
        for name in ["day", "7d", "30d", "month"] {
            _ = try Query.parseRange(.string(name), now: .max, zone: berlin)
            _ = try Query.parseRange(.string(name), now: .min, zone: berlin)
        }
    }
}

extension TimeZoneRulesTests {
    /// A version 1 file (32-bit times, no footer): the same offsets as the 64-bit data within its range.
    @Test func versionOneData() throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Berlin")))
        let full = try TimeZoneRules.parse(name: "Europe/Berlin", bytes)
        bytes[4] = 0
        let v1 = try TimeZoneRules.parse(name: "Europe/Berlin", bytes)
        #expect(v1.footer == nil && !v1.transitions.isEmpty)
        for t in stride(from: Int64(-2_000_000_000), to: Int64(Int32.max), by: 86_400 * 5 + 3_600) {
            #expect(v1.offset(atSecond: t) == full.offset(atSecond: t), "\(t)")
        }
    }
}
