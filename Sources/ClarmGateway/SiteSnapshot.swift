import ClarmStorage
import Synchronization

/// One registered site as the track path uses it: the registration, its name and origins as bytes, and its
/// event bucket. Kept from snapshot to snapshot while the registration is unchanged, so the bucket's state
/// survives changes to other sites.
public final class SiteEntry: Sendable {
    public let registration: SiteRegistration
    let name: [UInt8]
    let origins: [[UInt8]]
    /// nil when the site has no event limit.
    private let bucket: Mutex<TokenBucket>?

    init(_ registration: SiteRegistration, now: Int64) {
        self.registration = registration
        name = Array(registration.site.utf8)
        origins = registration.origins.map { Array($0.utf8) }
        bucket = registration.eventsPerSecond > 0
            ? Mutex(TokenBucket(rate: registration.eventsPerSecond, burst: registration.eventsBurst, now: now))
            : nil
    }

    /// Whether a browser request from `origin` may send this site's events.
    func allows(origin: UnsafeRawBufferPointer) -> Bool {
        origins.contains { $0.elementsEqual(origin) }
    }

    /// Takes `events` tokens; nil when granted, else the seconds until they would be.
    func take(events: Int, now: Int64) -> Int? {
        bucket?.withLock { $0.take(events, now: now) }
    }

    func refund(events: Int) {
        bucket?.withLock { $0.refund(events) }
    }
}

/// The registered sites at one moment, immutable, looked up by name without allocating.
public final class SiteSnapshot: Sendable {
    /// By name.
    public let entries: [SiteEntry]
    /// Open addressing over `entries`' indexes (-1: empty), at most half full.
    private let table: [Int32]

    init(_ entries: [SiteEntry]) {
        self.entries = entries.sorted { $0.registration.site < $1.registration.site }
        var size = 8
        while size < 2 * entries.count { size *= 2 }
        var table = [Int32](repeating: -1, count: size)
        for (index, entry) in self.entries.enumerated() {
            var slot = entry.name.withUnsafeBytes { Self.hash($0) } & (size - 1)
            while table[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            table[slot] = Int32(index)
        }
        self.table = table
    }

    public static let empty = SiteSnapshot([])

    public var isEmpty: Bool { entries.isEmpty }

    /// The index in `entries` of the site named `name`.
    func find(_ name: UnsafeRawBufferPointer) -> Int? {
        var slot = Self.hash(name) & (table.count - 1)
        while table[slot] >= 0 {
            let index = Int(table[slot])
            if entries[index].name.elementsEqual(name) { return index }
            slot = (slot + 1) & (table.count - 1)
        }
        return nil
    }

    public func entry(_ site: String) -> SiteEntry? {
        var site = site
        return site.withUTF8 { find(UnsafeRawBufferPointer($0)) }.map { entries[$0] }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        Int(truncatingIfNeeded: FNV1a.hash(bytes) >> 1)
    }
}
