import Testing
import ClarmJSON
@testable import ClarmEvents

let received: Int64 = 1_793_866_800_000  // 2026-11-05T08:20:00Z

struct Decoded {
    var records: [EventRecord] = []
    var rejections: [(Int, EventRejection)] = []
    var error: TrackBodyError? = nil
}

func decode(_ body: String, userAgent: String = "UA/1", maxEventAgeDays: Int = TrackDecoder.defaultMaxEventAgeDays) -> Decoded {
    var decoder = TrackDecoder(maxEventAgeDays: maxEventAgeDays)
    var batch = TrackBatch()
    let bodyBytes = Array(body.utf8)
    let uaBytes = Array(userAgent.utf8)
    let error = bodyBytes.withUnsafeBytes { raw in
        uaBytes.withUnsafeBytes { ua -> TrackBodyError? in
            do throws(TrackBodyError) {
                try decoder.decode(raw, context: TrackRequestContext(receivedAt: received, userAgent: ua), into: &batch)
                return nil
            } catch {
                return error
            }
        }
    }
    if let error { return Decoded(error: error) }
    let records = try! batch.records.withUnsafeBytes { try EventRecord.decodeAll($0) }
    #expect(records.count == batch.acceptedCount)
    return Decoded(records: records, rejections: batch.rejections.map { ($0.index, $0.reason) })
}

@Suite struct TrackDecoderTests {
    @Test func decodesAFullEvent() throws {
        let body = #"""
        {"event":"purchase","visitor_id":"v-1","session_id":"s-1","timestamp":"2026-11-05T08:19:19.685Z",
         "url":"https://Shop.Example.com/checkout?step=2","referrer":"https://google.com/","user_agent":"Mozilla/5.0",
         "properties":{"amount": 49.5, "currency":"EUR", "nested":{"a":[1,2]}},"event_id":"e-1","unknown":[1,{"x":null}]}
        """#
        let decoded = decode(body)
        let record = try #require(decoded.records.first)
        #expect(decoded.rejections.isEmpty)
        #expect(record.event == "purchase")
        #expect(record.visitorID == "v-1")
        #expect(record.sessionID == "s-1")
        #expect(record.timestamp == 1_793_866_759_685)
        #expect(record.receivedAt == received)
        #expect(record.url == "https://Shop.Example.com/checkout?step=2")
        #expect(record.referrer == "https://google.com/")
        #expect(record.userAgent == "Mozilla/5.0")
        #expect(record.properties == #"{"amount": 49.5, "currency":"EUR", "nested":{"a":[1,2]}}"#)
        #expect(record.eventID == "e-1")
        #expect(record.site == "shop.example.com")
    }

    @Test func defaultsForOptionalFields() throws {
        let record = try #require(decode(#"{"event":"page_view","visitor_id":"v","site":"Example.COM","session_id":null}"#, userAgent: "curl/8").records.first)
        #expect(record.timestamp == received)
        #expect(record.userAgent == "curl/8")
        #expect(record.site == "example.com")
        #expect(record.sessionID == "")
        #expect(record.properties == "")
    }

    @Test func sentAtCorrectsClientClockSkew() throws {
        // The client's clock is 10 minutes fast: it sent at 08:30 by its clock, the server got it at 08:20.
        let body = #"{"event":"e","visitor_id":"v","site":"s","timestamp":"2026-11-05T08:29:00Z","sent_at":"2026-11-05T08:30:00Z"}"#
        let record = try #require(decode(body).records.first)
        #expect(record.timestamp == received - 60_000)
        let noTimestamp = try #require(decode(#"{"event":"e","visitor_id":"v","site":"s","sent_at":"2026-11-05T08:30:00Z"}"#).records.first)
        #expect(noTimestamp.timestamp == received)
    }

    @Test func unescapesStrings() throws {
        let body = #"{"ev\u0065nt":"caf\u00e9 \"x\"","visitor_id":"\ud83d\ude00","site":"s","url":"https:\/\/a.com\/p"}"#
        let record = try #require(decode(body).records.first)
        #expect(record.event == "café \"x\"")
        #expect(record.visitorID == "😀")
        #expect(record.url == "https://a.com/p")
    }

    @Test func keepsValidEventsOfABatch() {
        let body = #"""
        [{"event":"a","visitor_id":"v","site":"s"},
         {"visitor_id":"v","site":"s"},
         "not an event",
         {"event":"","visitor_id":"v","site":"s"},
         {"event":"b","visitor_id":"v"},
         {"event":"c","visitor_id":"v","site":"s","timestamp":"yesterday"},
         {"event":"d","visitor_id":7,"site":"s"},
         {"event":"e","visitor_id":"v","site":"s","properties":"{}"},
         {"event":"f","visitor_id":"v","site":"s","properties":{"k":"v"}}]
        """#
        let decoded = decode(body)
        #expect(decoded.records.map(\.event) == ["a", "f"])
        #expect(decoded.rejections.map(\.0) == [1, 2, 3, 4, 5, 6, 7])
        #expect(decoded.rejections.map { $0.1.description } == [
            "event is required",
            "event must be a JSON object",
            "event must not be empty",
            "site is required when url is not an absolute URL with a host",
            "timestamp must be an ISO 8601 UTC timestamp such as 2026-11-05T08:19:19.685Z",
            "visitor_id must be a string",
            "properties must be a JSON object",
        ])
    }

    @Test func enforcesLengths() {
        let longEvent = String(repeating: "e", count: 201)
        let okEvent = String(repeating: "e", count: 200)
        let longVisitor = String(repeating: "v", count: 129)
        let bigProperties = "{\"k\":\"" + String(repeating: "x", count: 32 * 1024) + "\"}"
        let body = """
        [{"event":"\(okEvent)","visitor_id":"v","site":"s"},
         {"event":"\(longEvent)","visitor_id":"v","site":"s"},
         {"event":"e","visitor_id":"\(longVisitor)","site":"s"},
         {"event":"e","visitor_id":"v","site":"s","properties":\(bigProperties)}]
        """
        let decoded = decode(body)
        #expect(decoded.records.count == 1)
        #expect(decoded.rejections.map { $0.1 } == [.tooLong(.event), .tooLong(.visitorID), .tooLong(.properties)])
    }

    @Test func laterDuplicateKeysWin() throws {
        let record = try #require(decode(#"{"event":"a","event":"b","visitor_id":"v","site":"s"}"#).records.first)
        #expect(record.event == "b")
    }

    @Test func refusesBodiesThatAreNotEvents() {
        #expect(decode("42").error == .notEvents)
        #expect(decode(#""text""#).error == .notEvents)
        #expect(decode("null").error == .notEvents)
        #expect(decode("").error == .json(JSONError(offset: 0, reason: .unexpectedEnd)))
        #expect(decode(#"{"event":"a","visitor_id":"v","site":"s"} trailing"#).error == .json(JSONError(offset: 42, reason: .trailingData)))
        #expect(decode(#"[{"event":"a","visitor_id":"v","site":"s"},]"#).error == .json(JSONError(offset: 43, reason: .trailingComma)))
        #expect(decode(#"{"event":"a" "visitor_id":"v"}"#).error?.description == "invalid JSON at byte 13: expected ',' or '}'")
    }

    @Test func batchLimit() {
        let event = #"{"event":"e","visitor_id":"v","site":"s"}"#
        let full = "[" + Array(repeating: event, count: TrackDecoder.maxBatch).joined(separator: ",") + "]"
        #expect(decode(full).records.count == TrackDecoder.maxBatch)
        let over = "[" + Array(repeating: event, count: TrackDecoder.maxBatch + 1).joined(separator: ",") + "]"
        #expect(decode(over).error == .tooManyEvents(limit: TrackDecoder.maxBatch))
        // A body over the limit that is also broken reads as broken.
        #expect(decode(String(over.dropLast())).error == .json(JSONError(offset: over.utf8.count - 1, reason: .unexpectedEnd)))
        #expect(decode("[]").records.isEmpty)
    }

    @Test func decoderIsReusable() {
        var decoder = TrackDecoder()
        var batch = TrackBatch()
        for body in [#"[{"event":"a","visitor_id":"v","site":"s"},{"event":"b","visitor_id":"v","site":"s"}]"#,
                     #"{"event":"c","visitor_id":"w","site":"t","properties":{"x":1}}"#] {
            Array(body.utf8).withUnsafeBytes { raw in
                try? decoder.decode(raw, context: TrackRequestContext(receivedAt: 0, userAgent: UnsafeRawBufferPointer(start: nil, count: 0)), into: &batch)
            }
        }
        let records = try! batch.records.withUnsafeBytes { try EventRecord.decodeAll($0) }
        #expect(records.map(\.event) == ["c"])
        #expect(records.first?.properties == #"{"x":1}"#)
    }
}
