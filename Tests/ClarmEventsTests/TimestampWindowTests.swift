import Testing
@testable import ClarmEvents

/// Timestamps are accepted from `maxEventAgeDays` before the server clock to one hour after it (after the
/// `sent_at` correction); the rest are rejected one by one with the reason.
@Suite struct TimestampWindowTests {
    static let day: Int64 = 86_400_000
    static let hour: Int64 = 3_600_000

    static func event(_ timestamp: String, sentAt: String? = nil) -> String {
        let sent = sentAt.map { #","sent_at":"\#($0)""# } ?? ""
        return #"{"event":"page_view","visitor_id":"v","site":"s.example","timestamp":"\#(timestamp)"\#(sent)}"#
    }

    static func at(_ millis: Int64) -> String { Timestamp.format(millis) }

    @Test(arguments: [
        (received - 30 * day, nil),
        (received - 30 * day - 1, "timestamp is more than 30 days old"),
        (received + hour, nil),
        (received + hour + 1, "timestamp is more than 1 hour in the future"),
        (received, nil),
    ] as [(Int64, String?)])
    func acceptsTheWindowAndNothingPastIt(_ timestamp: Int64, _ reason: String?) {
        let decoded = decode(Self.event(Self.at(timestamp)))
        #expect(decoded.rejections.map { $0.1.description } == (reason.map { [$0] } ?? []))
        #expect(decoded.records.map(\.timestamp) == (reason == nil ? [timestamp] : []))
    }

    static func reasons(_ timestamp: String, maxEventAgeDays: Int) -> [String] {
        decode(event(timestamp), maxEventAgeDays: maxEventAgeDays).rejections.map { $0.1.description }
    }

    @Test func rejectsYearOneAndYear9999WhateverTheAge() {
        for age in [TrackDecoder.defaultMaxEventAgeDays, TrackDecoder.maxEventAgeLimit] {
            #expect(Self.reasons("0001-01-01T00:00:00Z", maxEventAgeDays: age) == ["timestamp is more than \(age) days old"])
            #expect(Self.reasons("9999-12-31T23:59:59.999Z", maxEventAgeDays: age) == ["timestamp is more than 1 hour in the future"])
        }
    }

    @Test func theAgeIsConfigurable() {
        #expect(decode(Self.event(Self.at(received - Self.day)), maxEventAgeDays: 1).rejections.isEmpty)
        #expect(Self.reasons(Self.at(received - Self.day - 1), maxEventAgeDays: 1) == ["timestamp is more than 1 day old"])
        #expect(Self.reasons(Self.at(received - 400 * Self.day), maxEventAgeDays: 365) == ["timestamp is more than 365 days old"])
        #expect(TrackDecoder(maxEventAgeDays: 0).maxEventAgeDays == 1)
        #expect(TrackDecoder(maxEventAgeDays: .max).maxEventAgeDays == TrackDecoder.maxEventAgeLimit)
    }

    @Test func theWindowAppliesAfterTheClockCorrection() {
        // A client clock two hours fast: its timestamp is two hours ahead, and so is its sent_at.
        let fast = decode(Self.event(Self.at(received + 2 * Self.hour - 5_000), sentAt: Self.at(received + 2 * Self.hour)))
        #expect(fast.rejections.isEmpty)
        #expect(fast.records.first?.timestamp == received - 5_000)
        // A client clock two hours slow moves a timestamp that looked fine past the hour ahead.
        let slow = decode(Self.event(Self.at(received), sentAt: Self.at(received - 2 * Self.hour)))
        #expect(slow.rejections.map { $0.1.description } == ["timestamp is more than 1 hour in the future"])
    }

    @Test func rejectsOnlyTheEventsOutside() {
        let body = "[" + [Self.event(Self.at(received - 40 * Self.day)), Self.event(Self.at(received - Self.day)),
                          Self.event("9999-01-01T00:00:00Z"), #"{"event":"e","visitor_id":"v","site":"s.example"}"#].joined(separator: ",") + "]"
        let decoded = decode(body)
        #expect(decoded.records.map(\.timestamp) == [received - Self.day, received])
        #expect(decoded.rejections.map { $0.0 } == [0, 2])
    }
}
