import Testing
@testable import ClarmEvents

@Suite struct EventLocationTests {
    /// Decodes `body` with the request located at (`country`, `region`, `city`).
    static func decodeLocated(_ body: String, _ country: String, _ region: String, _ city: String) -> [EventRecord] {
        var decoder = TrackDecoder(maxEventAgeDays: TrackDecoder.maxEventAgeLimit)
        var batch = TrackBatch()
        let texts = [country, region, city].map { Array($0.utf8) }
        texts[0].withUnsafeBytes { c in
            texts[1].withUnsafeBytes { r in
                texts[2].withUnsafeBytes { t in
                    Array(body.utf8).withUnsafeBytes { raw in
                        let context = TrackRequestContext(receivedAt: received, userAgent: UnsafeRawBufferPointer(start: nil, count: 0),
                                                          location: EventLocation(country: c, region: r, city: t))
                        try! decoder.decode(raw, context: context, into: &batch)
                    }
                }
            }
        }
        return try! batch.records.withUnsafeBytes { try EventRecord.decodeAll($0) }
    }

    @Test func everyEventOfARequestGetsItsLocationAfterScrubbing() {
        let body = #"""
        [{"event":"page_view","visitor_id":"v","url":"https://a.example/p?token=secret&x=1","referrer":"https://r.example/?email=a@b.c"},
         {"event":"click","visitor_id":"w","site":"b.example"}]
        """#
        let records = Self.decodeLocated(body, "BR", "São Paulo", "São Paulo")
        #expect(records.count == 2)
        for record in records {
            #expect([record.country, record.region, record.city] == ["BR", "São Paulo", "São Paulo"])
        }
        // The scrubber shortened url and referrer before the location was appended.
        #expect(records[0].url == "https://a.example/p?x=1")
        #expect(records[0].referrer == "https://r.example/")
        #expect(records[1].site == "b.example")
    }

    @Test func valuesPastTheirLimitsAreStoredEmpty() {
        let long = String(repeating: "é", count: EventLocation.maxNameLength / 2 + 1)
        let records = Self.decodeLocated(#"{"event":"e","visitor_id":"v","site":"a.example"}"#, "DEU", long, "Berlin")
        #expect([records[0].country, records[0].region, records[0].city] == ["DEU", "", "Berlin"])
        let tooLongCode = Self.decodeLocated(#"{"event":"e","visitor_id":"v","site":"a.example"}"#, "DEUT", "", "")
        #expect(tooLongCode[0].country == "")
    }

    @Test func valuesThatAreNotUTF8AreStoredEmpty() {
        let bad: [UInt8] = [0x44, 0xC4], good = Array("München".utf8)
        let location = bad.withUnsafeBytes { b in good.withUnsafeBytes { g in
            let l = EventLocation(country: b, region: g, city: UnsafeRawBufferPointer(rebasing: g[0..<2]))
            return [l.country.count, l.region.count, l.city.count]
        } }
        // The first two bytes of "München" end inside the ü: no UTF-8 either.
        #expect(location == [0, good.count, 0])
    }

    @Test func recordsRoundTripTheirLocation() throws {
        var record = EventRecord(timestamp: 1, receivedAt: 2, event: "page_view", visitorID: "v", url: "https://a.example/", site: "a.example")
        record.country = "JP"
        record.region = "Tokyo"
        record.city = "Tokyo"
        var bytes: [UInt8] = []
        record.append(to: &bytes)
        #expect(bytes[4] == EventRecord.version)
        #expect(try bytes.withUnsafeBytes { try EventRecord.decodeAll($0) } == [record])
    }

    /// Records written before the location (version 1: nine strings) still read, unlocated; a version-1 header
    /// on a version-2 body (or the reverse) is malformed.
    @Test func versionOneRecordsReadUnlocated() throws {
        let record = EventRecord(timestamp: 5, receivedAt: 6, event: "click", visitorID: "v", sessionID: "s", url: "https://a.example/x",
                                 referrer: "r", userAgent: "ua", properties: #"{"a":1}"#, site: "a.example")
        var current: [UInt8] = []
        record.append(to: &current)
        // Version 1 is version 2 without the three (here empty) location strings.
        var legacy = Array(current.dropLast(3 * 4))
        legacy[4] = EventRecord.legacyVersion
        withUnsafeBytes(of: UInt32(legacy.count - 4).littleEndian) { legacy.replaceSubrange(0..<4, with: $0) }
        let decoded = try legacy.withUnsafeBytes { try EventRecord.decodeAll($0) }
        #expect(decoded == [record])
        var mislabelled = current
        mislabelled[4] = EventRecord.legacyVersion
        #expect(throws: EventRecord.DecodingError.self) { try mislabelled.withUnsafeBytes { try EventRecord.decodeAll($0) } }
        var unknown = current
        unknown[4] = 3
        #expect(throws: EventRecord.DecodingError.self) { try unknown.withUnsafeBytes { try EventRecord.decodeAll($0) } }
    }
}
