import Dispatch
import Glibc
import Testing
import ClarmJSON
@testable import ClarmIntegrations
import ClarmStorage
import ClarmTestSupport

/// The destinations file and its bound, without a receiver.
@Suite struct IntegrationsTests {
    func body(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBytes { try JSONValue.parse($0) }
    }

    @Test func destinationsAreBoundedAndSurviveARestartWithTheirFeeds() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var storeOptions = StoreOptions()
        storeOptions.shards = 1
        var options = IntegrationOptions()
        options.maxDestinations = 2
        options.allowPrivateDestinations = true
        var store = try Store(directory: directory.path, options: storeOptions)
        var integrations = try Integrations(directory: directory.path, store: store, options: options)
        let hook = #"{"type":"webhook","site":"shop.example.com","events":["*"],"url":"http://127.0.0.1:9/"}"#
        _ = try integrations.add(body(hook))
        _ = try integrations.add(body(hook))
        #expect(throws: IntegrationError.self) { _ = try integrations.add(body(hook)) }
        #expect(store.feedConsumers.count == 2)
        let ids = integrations.destinations.map(\.id)
        try integrations.remove(ids[0])
        #expect(store.feedConsumers == ["dest-\(ids[1])"])
        integrations.stop()
        store.close()

        store = try Store(directory: directory.path, options: storeOptions)
        integrations = try Integrations(directory: directory.path, store: store, options: options)
        #expect(integrations.destinations.map(\.id) == [ids[1]])
        #expect(integrations.destinations[0].secret.hasPrefix("whsec_"))
        integrations.stop()
        store.close()
    }

    /// The dashboard's enable/disable sends a Slack destination back as listed, its URL masked: the saved URL stays.
    @Test func aSlackURLSentBackMaskedKeepsTheSavedOne() throws {
        let url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
        let saved = try Destination.parse(body(#"{"type":"slack","site":"shop.example.com","events":["*"],"url":"\#(url)"}"#), id: nil)
        let masked = Destination.masked(url)
        #expect(masked != url)
        let toggled = try Destination.parse(body(#"{"type":"slack","site":"shop.example.com","events":["*"],"url":"\#(masked)","enabled":false}"#),
                                            id: nil, existing: saved)
        #expect(toggled.url == url && !toggled.enabled)
        let moved = "https://hooks.slack.com/services/T000/B000/YYYYYYYYYYYYYYYY"
        let changed = try Destination.parse(body(#"{"type":"slack","site":"shop.example.com","events":["*"],"url":"\#(moved)"}"#),
                                            id: nil, existing: saved)
        #expect(changed.url == moved)
    }

    /// A token, URL or secret holding CR/LF (or any control character) would write headers of its own.
    @Test func controlCharactersInFieldsThatReachHeadersAreRefused() throws {
        let hubspot = #"{"type":"hubspot","site":"shop.example.com","events":["*"],"token":"pat\r\nX-Injected: 1"}"#
        #expect { _ = try Destination.parse(body(hubspot), id: nil) } throws: { "\($0)".contains("token must not hold control characters") }
        let hook = #"{"type":"webhook","site":"shop.example.com","events":["*"],"url":"https://hooks.example.com/\n"}"#
        #expect { _ = try Destination.parse(body(hook), id: nil) } throws: { "\($0)".contains("url must not hold control characters") }
        let name = #"{"type":"hubspot","site":"shop.example.com","events":["*"],"token":"pat","event_name":"pe1_\u0000"}"#
        #expect { _ = try Destination.parse(body(name), id: nil) } throws: { ($0 as? IntegrationError)?.status == 400 }
        #expect(try Destination.parse(body(#"{"type":"hubspot","site":"shop.example.com","events":["*"],"token":"pat-eu1-x"}"#), id: nil).token == "pat-eu1-x")
    }

    /// A replay of a range is refused before the store is read while another replay is being read or sent.
    @Test func aBusyReplayIsRefusedBeforeTheRangeIsRead() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var storeOptions = StoreOptions()
        storeOptions.shards = 1
        var options = IntegrationOptions()
        options.allowPrivateDestinations = true
        let store = try Store(directory: directory.path, options: storeOptions)
        defer { store.close() }
        let integrations = try Integrations(directory: directory.path, store: store, options: options)
        defer { integrations.stop() }
        _ = try integrations.add(body(#"{"type":"webhook","site":"shop.example.com","events":["*"],"url":"http://127.0.0.1:9/"}"#))
        let id = integrations.destinations[0].id
        let worker = try #require(integrations.worker(id))
        let range = try body(#"{"from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}"#)
        #expect(worker.reserveReplay())
        // Even a range that cannot be read (a deadline already past) answers "busy", not a timeout: not read.
        #expect { _ = try integrations.replayRange(id, range, timeoutMilliseconds: -1) } throws: { "\($0)".contains("still being sent") }
        #expect { _ = try integrations.replayDeadLetters(id) } throws: { "\($0)".contains("still being sent") }
        worker.releaseReplay()
        #expect { _ = try integrations.replayRange(id, range, timeoutMilliseconds: -1) } throws: { "\($0)".contains("query timeout") }
        // A failed read gives the queue back.
        #expect(try integrations.replayRange(id, range) == Array(#"{"replayed_events":0}"#.utf8))
    }

    /// A listing waits for a replay's lock without holding `status`, which the replay takes to note an error
    /// (the lock order of `DeliveryWorker`): with `status` held there, both would wait for ever.
    @Test func aListingDoesNotHoldStatusWhileWaitingForTheReplay() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var storeOptions = StoreOptions()
        storeOptions.shards = 1
        var options = IntegrationOptions()
        options.allowPrivateDestinations = true
        let store = try Store(directory: directory.path, options: storeOptions)
        defer { store.close() }
        let integrations = try Integrations(directory: directory.path, store: store, options: options)
        defer { integrations.stop() }
        _ = try integrations.add(body(#"{"type":"webhook","site":"shop.example.com","events":["*"],"url":"http://127.0.0.1:9/"}"#))
        let id = integrations.destinations[0].id
        let worker = try #require(integrations.worker(id))
        let listed = DispatchSemaphore(value: 0)
        var statusFree = false
        worker.replay.withLock { _ in
            DispatchQueue.global().async {
                _ = try? integrations.show(id)
                listed.signal()
            }
            // The listing is now waiting for `replay`; what a replay does under it next is to take `status`.
            usleep(300_000)
            for _ in 0..<40 where !statusFree {
                statusFree = worker.status.withLockIfAvailable { _ in true } ?? false
                if !statusFree { usleep(50_000) }
            }
        }
        listed.wait()
        #expect(statusFree)
    }
}
