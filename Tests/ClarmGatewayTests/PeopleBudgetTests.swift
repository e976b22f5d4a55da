import Foundation
import Testing
import ClarmEvents
import ClarmGateway

/// The people routes and comparisons stay under the query row cap (`--query-max-rows`): past it, 422.
@Suite(.serialized) struct PeopleBudgetTests {
    @Test func peopleAndAPersonWithManyDevicesArePastTheRowCap() throws {
        var options = GatewayOptions()
        options.queryMaxRows = 500
        try withGateway(gateway: options) { port, store in
            QueryBudgetTests.fill(store, events: 2_000)
            // Every one of the 201 visitors identifies as the same person.
            let identifies = (0...200).map {
                #"{"event":"identify","visitor_id":"visitor-\#($0)","timestamp":"2026-10-01T01:00:00Z","url":"https://shop.example.com/","properties":{"email":"many@example.com"}}"#
            }
            let client = try TestClient(port: port, receiveTimeout: 30)
            #expect(try QueryRouteTests.post(client, "/api/track", "[" + identifies.joined(separator: ",") + "]").status == 202)
            for target in ["/api/people?site=shop.example.com&date_range=all", "/api/people/many%40example.com?site=shop.example.com"] {
                let response = try exchange(client, "GET", target)
                #expect(response.status == 422, "\(target): \(response.text)")
                #expect(response.text.contains("narrow the range or add filters"), "\(response.text)")
            }
        }
    }

    @Test func theEarlierPeriodCountsAgainstTheSameRowCap() throws {
        var options = GatewayOptions()
        options.queryMaxRows = 1_500
        try withGateway(gateway: options) { port, store in
            // 2,000 events a second apart from 2026-10-01T00:00:00Z: 1,000 in each half.
            QueryBudgetTests.fill(store, events: 2_000)
            let range = #""date_range":["2026-10-01T00:16:40Z","2026-10-01T00:33:20Z"]"#
            let alone = try QueryBudgetTests.post(port, #"{"site":"shop.example.com",\#(range),"metrics":["events"]}"#)
            #expect(alone.status == 200, "\(alone.text)")
            #expect(alone.text.contains(#""metrics":[1000]"#), "\(alone.text)")
            let compared = try QueryBudgetTests.post(port, #"{"site":"shop.example.com",\#(range),"metrics":["events"],"comparisons":{"mode":"previous_period"}}"#)
            #expect(compared.status == 422, "\(compared.text)")
        }
    }
}
