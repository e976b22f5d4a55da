import ClarmEvents
import ClarmMetrics
import Glibc

/// Clarm's event store: `shardCount` shards, each a WAL, a memtable and segments (docs/FORMAT.md).
///
/// An append completes `.stored` only once its events are in the shard's WAL and, with `Durability.fsync`,
/// fsynced: from then on they survive a crash of the process (and, with fsync, of the machine).
public final class Store: Sendable {
    public let directory: String
    public let shardCount: Int
    let shards: [Shard]
    private let lock: DataDirectoryLock
    private let budget: MemoryBudget
    /// What the shards record about their work (fsyncs, group commits, seals, compactions, deduplication).
    public let metrics: StorageMetrics

    /// Opens the store in `directory`, creating it with `options.shards` shards if it has no manifest,
    /// and recovers each shard from its segments and logs. `report` receives damage found and other notices.
    ///
    /// The directory has one owner: `DATA/LOCK` is locked before anything in it is read or changed, and a
    /// second store fails at once with "data directory X is in use by process N".
    public init(directory: String, options: StoreOptions = StoreOptions(), fileSystem: FileSystem = PosixFileSystem(),
                report: @escaping @Sendable (String) -> Void = { _ in }) throws(StoreError) {
        self.directory = directory
        let manifest = "\(directory)/MANIFEST"
        var shardCount = options.shards
        do throws(StorageIOError) {
            try fileSystem.makeDirectory(directory)
        } catch {
            throw StoreError("cannot open the store in \(directory): \(error)")
        }
        lock = try DataDirectoryLock.acquire(directory: directory)
        do throws(StorageIOError) {
            if fileSystem.exists(manifest) {
                let text = String(decoding: try fileSystem.readAll(manifest), as: UTF8.self)
                guard let count = Self.parseManifest(text) else {
                    throw StorageIOError("parse", manifest, errno: EINVAL)
                }
                shardCount = count
            } else {
                let file = try fileSystem.create(manifest + ".tmp")
                defer { file.close() }
                try Array("clarm-store 1\nshards \(shardCount)\n".utf8).withBytes { raw throws(StorageIOError) in try file.append(raw) }
                try file.sync()
                try fileSystem.rename(manifest + ".tmp", manifest)
                try fileSystem.syncDirectory(directory)
            }
        } catch {
            throw StoreError("cannot open the store in \(directory): \(error)")
        }
        self.shardCount = shardCount
        budget = MemoryBudget(limit: options.memoryLimit)
        let metrics = StorageMetrics(shards: shardCount)
        self.metrics = metrics
        var options = options
        // Each shard may hold an active memtable and one being sealed: seal early enough that all of them fit.
        let sealBytes = max(1, options.memoryLimit / (2 * shardCount))
        if options.sealBytes > sealBytes {
            report("memory limit \(options.memoryLimit >> 20) MiB over \(shardCount) shards: sealing at \(sealBytes >> 20) MiB per shard instead of \(options.sealBytes >> 20) MiB")
            options.sealBytes = sealBytes
        }
        var shards: [Shard] = []
        for index in 0..<shardCount {
            let name = "shard-" + String(repeating: "0", count: max(0, 3 - String(index).count)) + String(index)
            shards.append(try Shard(index: index, directory: "\(directory)/\(name)", fileSystem: fileSystem,
                                    options: options, budget: budget, metrics: metrics, report: report))
        }
        self.shards = shards
        // The shard directories' entries are durable only once the data directory itself is synced.
        do throws(StorageIOError) {
            try fileSystem.syncDirectory(directory)
        } catch {
            throw StoreError("cannot sync \(directory): \(error)")
        }
    }

    static func parseManifest(_ text: String) -> Int? {
        let lines = text.split(separator: "\n")
        guard lines.count >= 2, lines[0] == "clarm-store 1", lines[1].hasPrefix("shards "),
              let count = Int(lines[1].dropFirst(7)), count >= 1, count <= 4096
        else { return nil }
        return count
    }

    /// The shard that holds a visitor's events.
    public func shard(forVisitor visitorID: UnsafeRawBufferPointer) -> Int {
        Int(FNV1a.hash(visitorID) % UInt64(shardCount))
    }

    /// Queues `records` (all of one shard, `EventRecord` layout) for that shard's next group commit.
    /// `completion` runs on the shard's writer once the outcome is known; it must not block.
    public func append(shard: Int, records: [UInt8], count: Int, completion: @escaping @Sendable (AppendOutcome) -> Void) {
        shards[shard].append(records, count: count, completion: completion)
    }

    /// Erases a visitor's events on `site` (GDPR Art. 17): once this returns, the tombstone is durable and
    /// no snapshot shows them; the shard then purges them from its files (`Shard+erasure.swift`).
    public func erase(site: String, visitor: String) throws(StoreError) {
        let tombstone = ErasureSet.Tombstone(site: Array(site.utf8), visitor: Array(visitor.utf8))
        guard tombstone.site.count <= Int(UInt16.max), tombstone.visitor.count <= Int(UInt16.max) else {
            throw StoreError("a site or visitor id longer than \(UInt16.max) bytes is never stored")
        }
        let shard = tombstone.visitor.withUnsafeBytes { self.shard(forVisitor: $0) }
        try shards[shard].erase(tombstone)
    }

    /// Whether a visitor's erasure on `site` still waits for its events to leave the files.
    public func erasurePending(site: String, visitor: String) -> Bool {
        let tombstone = ErasureSet.Tombstone(site: Array(site.utf8), visitor: Array(visitor.utf8))
        return tombstone.visitor.withUnsafeBytes { shards[shard(forVisitor: $0)] }.snapshot.erased.contains(tombstone)
    }

    /// Commits what is queued, seals every shard's buffered events into segments, stops, and gives the
    /// directory up.
    public func close() {
        for shard in shards { shard.close() }
        lock.release()
    }

    /// Stops at once without sealing or cleaning up, leaving the directory as a killed process would (tests).
    func halt() {
        for shard in shards { shard.halt() }
        lock.release()
    }

    /// What is wrong now (failing seals or compactions, a log that cannot be opened, the memory limit
    /// reached), and whether appends fail because of it.
    public func health() -> (problems: [String], ingestBlocked: Bool) {
        var problems: [String] = []
        var blocked = false
        for shard in shards {
            let health = shard.health
            problems += health.problems
            blocked = blocked || health.blocksIngest
        }
        return (problems, blocked)
    }

    /// Bytes counted against the memory limit now: queued appends, memtables, and the working copies of
    /// seals and compactions in progress, all shards together.
    public var bufferedBytes: Int { budget.bytesInUse }

    /// The pid of a live process that holds `directory`'s lock, if any (for read-only tools beside a server).
    public static func holder(of directory: String) -> Int32? {
        DataDirectoryLock.holder(directory: directory)
    }

    /// What queries may read now, shard by shard.
    public func snapshot() -> [ShardSnapshot] {
        shards.map(\.snapshot)
    }

    /// Every stored event, segments first, for tools and tests. Segments do not keep `event_id` or `received_at`.
    public func allEvents() throws(SegmentCorruption) -> [EventRecord] {
        var events: [EventRecord] = []
        for shard in snapshot() {
            for segment in shard.segments { events += try segment.records() }
            for memtable in shard.memtables {
                memtable.forEachChunk { chunk in EventRecordView.forEach(in: chunk) { events.append($0.record) } }
            }
        }
        return events
    }
}
