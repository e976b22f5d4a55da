import CMaxMindDB
import ClarmEvents

/// Locates addresses in a `GeoIPDatabase` for one thread (an event loop), remembering the places of the records
/// it found last (`clarm_mmdb_cache`: 1024 records, direct-mapped, about 53 KiB). Reading a record's country,
/// region and city costs several times the search-tree walk that finds it, and a site's clients come from few
/// places, so most lookups skip it (docs/BENCHMARKS.md, "GeoIP lookups"). Not for sharing between threads.
public final class GeoIPLocator {
    public let database: GeoIPDatabase
    private let cache: UnsafeMutablePointer<clarm_mmdb_cache>

    public init(_ database: GeoIPDatabase) {
        self.database = database
        let size = MemoryLayout<clarm_mmdb_cache>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<clarm_mmdb_cache>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        cache = raw.bindMemory(to: clarm_mmdb_cache.self, capacity: 1)
    }

    deinit {
        cache.deallocate()
    }

    /// As `GeoIPDatabase.locate`.
    public func locate(high: UInt64, low: UInt64, ipv4: Bool) -> EventLocation {
        database.locate(high: high, low: low, ipv4: ipv4, cache: cache)
    }
}
