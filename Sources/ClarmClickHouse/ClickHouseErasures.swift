import ClarmEvents
import ClarmStorage
import Foundation

/// The erasures ClickHouse has not yet accepted (docs/SCALE.md, "Erasure"). The local tombstone is retired once
/// the store has purged its files, so ClickHouse's deletion needs its own record: `DATA/clickhouse/erasures`,
/// the layout of `shard-N/erasures` (docs/FORMAT.md, "Erasures"), rewritten whole, fsynced and renamed before
/// the erasure is answered, and deleted once ClickHouse has accepted every deletion in it.
///
/// An erasure is due once every shard's shipper has started a read of its feed after it was recorded: every
/// batch read before then (which may hold the visitor's events: the tombstone was not there yet) is in
/// ClickHouse by that time, and every batch read after leaves the visitor out. After a restart the erasures
/// read from the file are due once every shard has read once: a batch of the previous process was either
/// inserted before it ended, or is read again now, with the tombstone.
public final class ClickHouseErasures: @unchecked Sendable {
    /// Erasures the file holds at most; one more is refused (503) until ClickHouse has taken some.
    public static let maxPending = 100_000

    let directory: String
    var path: String { "\(directory)/erasures" }
    private let lock = NSLock()
    private var pending: ErasureSet
    /// Per erasure, each shard's count of feed reads when it was recorded (none for those read from the file).
    private var readsWhenRecorded: [ErasureSet.Tombstone: [UInt64]] = [:]

    /// Reads the file under `directory`. A damaged one stops the gateway: skipping it would leave erased
    /// visitors in ClickHouse.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        pending = ErasureSet()
        guard let bytes = FileManager.default.contents(atPath: path) else { return }
        guard let decoded = ErasureSet.decode(Array(bytes)) else {
            throw ClickHouseError("\(path) is damaged (its checksum or layout does not match): restore it, or remove it and erase the visitors again")
        }
        pending = decoded
    }

    public var count: Int { lock.withLock { pending.count } }

    /// Records the erasure of `visitor` on `site` durably; `reads` are each shard's feed reads so far. An id
    /// longer than any stored event's has no row to delete, and is not recorded.
    func record(site: String, visitor: String, reads: [UInt64]) throws(ClickHouseError) {
        let tombstone = ErasureSet.Tombstone(site: Array(site.utf8), visitor: Array(visitor.utf8))
        guard tombstone.site.count <= EventField.site.maxLength, tombstone.visitor.count <= EventField.visitorID.maxLength else { return }
        lock.lock()
        defer { lock.unlock() }
        if pending.contains(tombstone) {
            // Erased again before ClickHouse took the first: rows shipped since count too, so the deletion
            // waits for the reads from now on (one under way for the first is not taken as this one's).
            readsWhenRecorded[tombstone] = reads
            return
        }
        guard pending.count < Self.maxPending else {
            throw ClickHouseError("\(pending.count) erasures wait for ClickHouse to accept them, the most kept (\(Self.maxPending)); retry once it has")
        }
        var next = pending
        next.insert(tombstone)
        try save(next)
        pending = next
        readsWhenRecorded[tombstone] = reads
    }

    /// An erasure ready for ClickHouse, with the reads it waited for (so that `accepted` can tell it from
    /// the same visitor erased again meanwhile).
    struct Due: Sendable {
        let tombstone: ErasureSet.Tombstone
        let reads: [UInt64]
    }

    /// The erasures every shard has read past (`reads`: each shard's feed reads now), at most `limit`.
    func due(reads: [UInt64], limit: Int) -> [Due] {
        lock.withLock {
            var due: [Due] = []
            for tombstone in pending.tombstones where due.count < limit {
                let then = readsWhenRecorded[tombstone] ?? []
                if reads.indices.allSatisfy({ reads[$0] > (then.indices.contains($0) ? then[$0] : 0) }) {
                    due.append(Due(tombstone: tombstone, reads: then))
                }
            }
            return due
        }
    }

    /// Drops `accepted` from the file (ClickHouse has their deletions), except a visitor erased again since.
    func accepted(_ accepted: [Due]) throws(ClickHouseError) {
        lock.lock()
        defer { lock.unlock() }
        var next = pending
        for item in accepted where (readsWhenRecorded[item.tombstone] ?? []) == item.reads {
            next.remove(item.tombstone)
        }
        try save(next)
        for item in accepted where !next.contains(item.tombstone) { readsWhenRecorded[item.tombstone] = nil }
        pending = next
    }

    private func save(_ erasures: ErasureSet) throws(ClickHouseError) {
        do {
            if erasures.isEmpty {
                if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
                try DurableFile.syncDirectory(directory)
            } else {
                try DurableFile.write(Data(erasures.encode()), to: path, directory: directory)
            }
        } catch {
            throw ClickHouseError("cannot record the erasure for ClickHouse in \(path): \(error)")
        }
    }
}
