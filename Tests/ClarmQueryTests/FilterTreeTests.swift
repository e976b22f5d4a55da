import Testing
import ClarmEvents
import ClarmQuery
import ClarmTestSupport

/// `and`/`or`/`not` over filters (`Query.filterTree`), on segments and memtables, against the reference's own evaluation.
@Suite struct FilterTreeTests {
    @Test func nestedFiltersMatchTheReference() throws {
        let events = generateEvents(seed: 17, visitors: 200)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let engine = QueryEngine(store: store)
        // Leaves: 0 event:name is page_view, 1 visit:device is Mobile, 2 event:page matches /blog/, 3 event:props:plan is pro.
        let text = #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","visits","pageviews","events","bounce_rate"],"dimensions":["visit:channel"],"filters":[["is","event:name",["page_view"]],["is","visit:device",["Mobile"]],["matches","event:page",["^/blog/"]],["is","event:props:plan",["pro"]]]}"#
        let trees: [Query.FilterTree] = [
            .or([.filter(0), .filter(1)]),
            .and([.not(.filter(0)), .or([.filter(2), .filter(3)])]),
            .not(.and([.filter(1), .not(.filter(2))])),
            .or([.and([.filter(0), .filter(3)]), .not(.or([.filter(1), .filter(2)]))]),
        ]
        for tree in trees {
            var query = try parse(text)
            query.filterTree = tree
            let result = try engine.run(query)
            let expected = QueryReference.run(events, query)
            #expect(result.rows.count == expected.count, "\(tree)")
            for row in result.rows { #expect(expected[row.dimensions] == row.metrics, "\(tree) \(row.dimensions)") }
        }
    }

    /// Without visit metrics or dimensions an `is` filter on `event:name` lets the scan drop other events early;
    /// under `or` or `not` it must not.
    @Test func eventNameFiltersUnderOrAndNotAreNotPushedDown() throws {
        let events = generateEvents(seed: 19, visitors: 120)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let text = #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","events"],"dimensions":["event:name"],"filters":[["is","event:name",["purchase"]],["contains","event:page",["/blog"]]]}"#
        for tree: Query.FilterTree in [.or([.filter(0), .filter(1)]), .not(.filter(0))] {
            var query = try parse(text)
            query.filterTree = tree
            let result = try QueryEngine(store: store).run(query)
            let expected = QueryReference.run(events, query)
            #expect(result.rows.count == expected.count, "\(tree)")
            for row in result.rows { #expect(expected[row.dimensions] == row.metrics, "\(tree) \(row.dimensions)") }
        }
    }
}
