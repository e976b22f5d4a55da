import ClarmEvents
import ClarmMetrics
import ClarmSystem
import Dispatch
import Synchronization

/// The outcome of an append: stored (and how many were duplicates), or not acknowledged at all.
public enum AppendOutcome: Sendable {
    case stored(accepted: Int, duplicates: Int)
    case failed(StoreError)
}

/// A store that cannot take events now; the gateway answers 503 and acknowledges nothing.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Seconds after which the client may retry.
    public let retryAfter: Int

    public init(_ description: String, retryAfter: Int = 1) {
        self.description = description
        self.retryAfter = retryAfter
    }
}

/// What queries may read of a shard at one moment: its segments and its buffered events.
public struct ShardSnapshot: Sendable {
    public let segments: [Segment]
    /// Buffered events: memtables being sealed, then the active one, oldest first.
    public let memtables: [MemtableSnapshot]
    /// Visitors erased but maybe still in the files above: readers skip their events.
    public let erased: ErasureSet
}

/// One shard: a WAL with group commit, a memtable, segments, and a deduplication window.
///
/// Two serial queues own its state, each piece on exactly one of them:
/// - `writer` (`Shard+commit.swift`): the log, the active memtable and the deduplication window. Each turn
///   takes every queued append and writes them in groups of up to 8 MiB, each with one fsync, then completes
///   them; it also freezes a full memtable for sealing (`Shard+seal.swift`).
/// - `sealer` (a thread at a low CPU priority): the pending seals, in order (`Shard+seal.swift`), then retention
///   and compaction (`Shard+maintenance.swift`), so no segment is deleted by one while another merges it; and
///   the purges of erased visitors (`Shard+purge.swift`), which rewrite segments the same way.
/// Recovery (`Shard+recovery.swift`) runs in `init`, before either queue has work.
final class Shard: @unchecked Sendable {
    let index: Int
    let directory: String
    let fs: FileSystem
    let options: StoreOptions
    let report: @Sendable (String) -> Void
    let budget: MemoryBudget
    let metrics: StorageMetrics
    let writer: DispatchQueue
    let sealer: BackgroundQueue

    /// A queued append: its records are `range` of the buffer it was queued in.
    struct Append {
        var range: Range<Int>
        let count: Int
        let completion: @Sendable (AppendOutcome) -> Void
    }

    /// Appends waiting for the writer, their records back to back in one buffer that the writer swaps for
    /// the one it emptied: appending copies the records once and, once the buffers have grown, allocates nothing.
    struct Incoming {
        var records: [UInt8] = []
        var appends: [Append] = []
        var scheduled = false
        var closed = false
    }

    struct View {
        var segments: [Segment] = []
        /// Frozen memtables by the number of the segment their seal will publish, oldest first.
        var sealing: [(number: UInt64, memtable: MemtableSnapshot)] = []
        var active = MemtableSnapshot.empty
        var erased = ErasureSet()
    }

    /// What is wrong now, by kind; empty when healthy (`Store.health`).
    enum Problem: String, CaseIterable {
        case log, memory, seal, compaction, erasure

        /// Whether appends fail while it lasts.
        var blocksIngest: Bool { self == .log || self == .memory }
    }

    // Any thread.
    let incoming = Mutex(Incoming())
    let view = Mutex(View())
    let problems = Mutex<[Problem: String]>([:])
    /// Numbers for new segments; seals (frozen on the writer) and compactions (on the sealer) both take from it.
    let nextSegmentNumber = Atomic<UInt64>(1)
    /// Set when the shard is closed or halted: no seal or maintenance starts after it.
    let stopped = Atomic<Bool>(false)
    /// Held while `erasures` is rewritten, so two changes never race (`Shard+erasure.swift`).
    let erasureFile = Mutex(())
    /// Whether a purge of erased visitors is wanted or running (`Shard+purge.swift`).
    let purgeState = Mutex(PurgeState())
    /// The change feed's commit point and consumers (`Shard+feed.swift`).
    let feeds = ShardFeeds()
    /// The zero-filled file the next log takes, made on the sealer (`Shard+spareLog.swift`).
    let spareLog = Mutex(SpareLog.none)

    // Writer state: touched only on `writer` (or in `init`).
    var log: LogWriter?
    var logNumber: UInt64 = 0
    /// Whether a commit to the current log succeeded: a log that never held acknowledged events can go.
    var logHoldsAcknowledged = false
    /// Bytes of the current log up to the end of its last acknowledged group: its commit point.
    var acknowledgedLogSize = 0
    /// Zero-filled bytes the current log started with (0 when it began empty), and the bytes the last log
    /// held when the writer left it: how large the next spare log is made (`Shard+spareLog.swift`).
    var logCapacity = 0
    var lastLogSize = 0
    var memtable = Memtable()
    var dedup: DedupWindow
    var payload: [UInt8] = []
    /// The records and appends of the group being committed, swapped with `incoming`'s (`drain`).
    var groupRecords: [UInt8] = []
    var group: [Append] = []
    /// Scratch of a commit (`Shard+commit.swift`): the new event ids of its group, and its appends' pieces.
    var groupIDs = Set<UInt64>()
    var pieces: [GroupPiece] = []
    var timer: DispatchSourceTimer?
    /// Monotonic milliseconds when a shortened dedup window was last reported.
    var shortenedReportedAt: Int64 = 0

    // Sealer state: touched only on `sealer` (or in `init`).
    var pendingSeals: [PendingSeal] = []
    var sealBackoff = Backoff()
    var sealRetryScheduled = false
    var compactionBackoff = Backoff()
    var compactionNotBefore: Int64 = 0
    /// The `ids-N.dedup` files on disk, oldest first.
    var dedupFiles: [DedupFileInfo] = []

    /// Opens (recovering) or creates the shard's directory. Damage is reported, never fatal.
    init(index: Int, directory: String, fileSystem: FileSystem, options: StoreOptions, budget: MemoryBudget,
         metrics: StorageMetrics, report: @escaping @Sendable (String) -> Void) throws(StoreError) {
        self.index = index
        self.directory = directory
        self.fs = fileSystem
        self.options = options
        self.report = report
        self.budget = budget
        self.metrics = metrics
        self.writer = DispatchQueue(label: "clarm.shard\(index).writer")
        self.sealer = BackgroundQueue(name: "clarm.shard\(index).sealer")
        self.dedup = DedupWindow(span: options.dedupWindow, capacity: options.dedupMaxIDs)
        purgeState.withLock { $0.paused = options.purgesPaused }
        try recover()
        let timer = DispatchSource.makeTimerSource(queue: writer)
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [unowned self] in self.tick() }
        timer.resume()
        self.timer = timer
        if !view.withLock({ $0.erased.isEmpty }) { requestPurge() }
    }

    /// Queues records for the next group commit; `completion` runs on the writer's queue, or at once when
    /// the store is closing or the memory limit is reached. Queued records count against the memory limit
    /// from here until they are sealed (or fail).
    func append(_ records: [UInt8], count: Int, completion: @escaping @Sendable (AppendOutcome) -> Void) {
        guard budget.reserve(records.count) else {
            let message = "memory limit of \(budget.limit >> 20) MiB reached: \(budget.bytesInUse >> 20) MiB of events wait to be sealed"
            noteProblem(.memory, message)
            return completion(.failed(StoreError(message, retryAfter: 5)))
        }
        clearProblem(.memory)
        let schedule = incoming.withLock { incoming -> Bool? in
            if incoming.closed { return nil }
            let start = incoming.records.count
            incoming.records.append(contentsOf: records)
            incoming.appends.append(Append(range: start..<incoming.records.count, count: count, completion: completion))
            if incoming.scheduled { return false }
            incoming.scheduled = true
            return true
        }
        switch schedule {
        case nil:
            budget.release(records.count)
            completion(.failed(StoreError("the store is shutting down")))
        case true?: writer.async { self.drain() }
        case false?: break
        }
    }

    /// Once a second: seal by age, forget expired ids, and let the sealer apply retention and compaction.
    func tick() {
        sealIfDue()
        expireDedup()
        startPurgeIfDue()
        sealer.async {
            if !self.stopped.load(ordering: .relaxed) { self.maintain() }
        }
    }

    // MARK: Problems

    func noteProblem(_ problem: Problem, _ message: String) {
        problems.withLock { $0[problem] = message }
    }

    func clearProblem(_ problem: Problem) {
        problems.withLock { if $0[problem] != nil { $0[problem] = nil } }
    }

    /// Problems now, as sentences, and whether any of them stops appends.
    var health: (problems: [String], blocksIngest: Bool) {
        problems.withLock { problems in
            let now = Problem.allCases.compactMap { kind in problems[kind].map { "shard \(index): \($0)" } }
            return (now, problems.keys.contains { $0.blocksIngest })
        }
    }

    // MARK: Closing and reading

    /// Takes no more appends, commits what is queued, seals everything, and waits for the seals. A seal that
    /// fails now leaves its events in the log, where the next start finds them.
    func close() {
        incoming.withLock { $0.closed = true }
        writer.sync {
            timer?.cancel()
            drain()
            sealIfDue(force: true)
        }
        sealer.sync { runSeals() }
        stopped.store(true, ordering: .relaxed)
        writer.sync {
            // The log opened after the last seal holds nothing: a cleanly closed shard keeps only segments.
            if let log, log.file.size == 0 {
                log.close()
                try? fs.remove(log.file.path)
                self.log = nil
            }
            log?.close()
            removeSpareLog()
        }
        sealer.stop()
    }

    /// Stops all work at once, as if the process died here: nothing is sealed or cleaned up (for tests).
    func halt() {
        stopped.store(true, ordering: .relaxed)
        incoming.withLock { $0.closed = true }
        writer.sync { timer?.cancel() }
        sealer.stop()
    }

    var snapshot: ShardSnapshot {
        view.withLock { ShardSnapshot(segments: $0.segments, memtables: $0.sealing.map(\.memtable) + [$0.active], erased: $0.erased) }
    }

    // MARK: Names

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    func logFiles() -> [(UInt64, String)] {
        ((try? fs.list(directory)) ?? []).compactMap { name in
            Self.number(in: name, prefix: "wal-", suffix: ".log").map { ($0, name) }
        }.sorted { $0.0 < $1.0 }
    }

    /// Deletes a log and its commit point, if it has one.
    func removeLog(_ number: UInt64) {
        try? fs.remove(path(Self.logName(number)))
        if fs.exists(path(LogCommitPoint.name(number))) { try? fs.remove(path(LogCommitPoint.name(number))) }
    }

    static func logName(_ number: UInt64) -> String { "wal-\(padded(number)).log" }
    static func segmentName(_ number: UInt64) -> String { "seg-\(padded(number)).cseg" }

    static func padded(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    static func number(in name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        return UInt64(name.dropFirst(prefix.count).dropLast(suffix.count))
    }
}
