import Testing
import ClarmGateway

/// Crawlers' events on POST /api/track: dropped and counted, unless the gateway keeps them.
@Suite struct BotRouteTests {
    static let browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
    static let crawler = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"

    static func event(_ visitor: String, userAgent: String?) -> String {
        let agent = userAgent.map { #","user_agent":"\#($0)""# } ?? ""
        return #"{"event":"page_view","visitor_id":"\#(visitor)","url":"https://shop.example.com/"\#(agent)}"#
    }

    @Test func crawlersAreDroppedAndCounted() throws {
        try withGateway { port, store in
            let client = try TestClient(port: port)
            let body = "[\(Self.event("v-1", userAgent: Self.browser)),\(Self.event("v-2", userAgent: Self.crawler))]"
            try client.send(trackRequest(body))
            #expect(try client.readResponse()?.text == #"{"accepted":1,"duplicates":0,"bots":1,"rejected":[]}"#)
            // The request's User-Agent stands for events without their own.
            try client.send(trackRequest(Self.event("v-3", userAgent: nil), extraHeaders: "User-Agent: \(Self.crawler)\r\n"))
            #expect(try client.readResponse()?.text == #"{"accepted":0,"duplicates":0,"bots":1,"rejected":[]}"#)
            #expect(store.count == 1)
            #expect(try store.allEvents().map(\.visitorID) == ["v-1"])
        }
    }

    @Test func keepBotsStoresThem() throws {
        var options = GatewayOptions()
        options.keepBots = true
        try withGateway(gateway: options) { port, store in
            let client = try TestClient(port: port)
            try client.send(trackRequest("[\(Self.event("v-1", userAgent: Self.browser)),\(Self.event("v-2", userAgent: Self.crawler))]"))
            #expect(try client.readResponse()?.text == #"{"accepted":2,"duplicates":0,"bots":0,"rejected":[]}"#)
            #expect(store.count == 2)
        }
    }
}
