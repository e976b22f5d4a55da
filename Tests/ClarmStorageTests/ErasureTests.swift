import Testing
@testable import ClarmStorage
import ClarmTestSupport

/// Tombstones over the store API: durable across a reopen, and bounded per shard.
@Suite struct ErasureTests {
    @Test func tombstonesSurviveAReopenAndTheirBoundAnswersAnError() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.maxPendingErasures = 2
        // The tombstones name no stored event: a purge would retire them at once.
        options.purgesPaused = true
        var store = try Store(directory: directory.path, options: options)
        try store.erase(site: "shop.example.com", visitor: "a")
        try store.erase(site: "shop.example.com", visitor: "a")  // idempotent: no second tombstone
        try store.erase(site: "shop.example.com", visitor: "b")
        #expect(throws: StoreError.self) { try store.erase(site: "shop.example.com", visitor: "c") }
        store.halt()

        store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        let erased = store.snapshot()[0].erased
        #expect(erased.count == 2)
        #expect(erased.visitors(site: Array("shop.example.com".utf8)) == [Array("a".utf8), Array("b".utf8)])
        #expect(store.erasurePending(site: "shop.example.com", visitor: "a"))
        #expect(!store.erasurePending(site: "other.example.com", visitor: "a"))
    }
}
