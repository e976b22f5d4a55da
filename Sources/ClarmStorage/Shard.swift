import ClarmEvents
import ClarmSystem
import Dispatch
import Glibc
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
}

/// One shard: a WAL with group commit, a memtable, segments, and a deduplication window.
///
/// Appends are queued and written by `writer` (a serial queue): each turn takes every queued append,
/// writes them as one group, fsyncs once, then completes them all. Sealing runs on `sealer`, in order.
final class Shard: @unchecked Sendable {
    let index: Int
    let directory: String
    private let fs: FileSystem
    private let options: StoreOptions
    private let report: @Sendable (String) -> Void
    private let writer: DispatchQueue
    private let sealer: DispatchQueue

    private struct Append {
        let records: [UInt8]
        let count: Int
        let completion: @Sendable (AppendOutcome) -> Void
    }

    private struct Incoming {
        var appends: [Append] = []
        var scheduled = false
        var closed = false
    }

    private let incoming = Mutex(Incoming())
    private let view: Mutex<(segments: [Segment], sealing: [MemtableSnapshot], active: MemtableSnapshot)>

    // Writer state: touched only on `writer` (or before it starts).
    private var log: LogWriter?
    private var logNumber: UInt64 = 0
    /// Whether a commit to the current log succeeded: a log that never held acknowledged events can go.
    private var logHoldsAcknowledged = false
    private var memtable = Memtable()
    private var dedup: DedupWindow
    /// Numbers for new segments; seals (on the writer) and compactions (on the sealer) both take from it.
    private let nextSegmentNumber = Atomic<UInt64>(1)
    private var payload: [UInt8] = []
    private var timer: DispatchSourceTimer?

    /// Opens (recovering) or creates the shard's directory. Damage is reported, never fatal.
    init(index: Int, directory: String, fileSystem: FileSystem, options: StoreOptions,
         report: @escaping @Sendable (String) -> Void) throws(StoreError) {
        self.index = index
        self.directory = directory
        self.fs = fileSystem
        self.options = options
        self.report = report
        self.writer = DispatchQueue(label: "clarm.shard\(index).writer")
        self.sealer = DispatchQueue(label: "clarm.shard\(index).sealer")
        self.dedup = DedupWindow(capacity: options.dedupWindow)
        self.view = Mutex(([], [], .empty))
        try recover()
        let timer = DispatchSource.makeTimerSource(queue: writer)
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [unowned self] in self.tick() }
        timer.resume()
        self.timer = timer
    }

    // MARK: Appending

    /// Queues records for the next group commit; `completion` runs on the writer's queue.
    func append(_ records: [UInt8], count: Int, completion: @escaping @Sendable (AppendOutcome) -> Void) {
        let schedule = incoming.withLock { incoming -> Bool? in
            if incoming.closed { return nil }
            incoming.appends.append(Append(records: records, count: count, completion: completion))
            if incoming.scheduled { return false }
            incoming.scheduled = true
            return true
        }
        switch schedule {
        case nil: completion(.failed(StoreError("the store is shutting down")))
        case true?: writer.async { self.drain() }
        case false?: break
        }
    }

    private func drain() {
        while true {
            let group = incoming.withLock { incoming -> [Append] in
                let group = incoming.appends
                incoming.appends.removeAll(keepingCapacity: true)
                if group.isEmpty { incoming.scheduled = false }
                return group
            }
            if group.isEmpty { return }
            commit(group)
            sealIfDue()
        }
    }

    private func commit(_ group: [Append]) {
        if log == nil {
            do throws(StoreError) { try openNewLog() } catch {
                for append in group { append.completion(.failed(error)) }
                return
            }
        }
        guard let log else { return }
        // Drop events whose id this shard already holds, or that an earlier append of this group carries.
        var seen = Set<UInt64>()
        var kept: [(range: Range<Int>, count: Int, duplicates: Int, ids: [UInt64])] = []
        for append in group {
            let start = payload.count
            payload.append(1)
            payload.append(contentsOf: [0, 0, 0, 0])
            var count = 0, duplicates = 0
            var ids: [UInt64] = []
            _ = append.records.withUnsafeBytes { records in
                EventRecordView.forEach(in: records) { view in
                    if !view.eventID.isEmpty {
                        let hash = DedupWindow.hash(view.eventID)
                        if dedup.contains(hash) || !seen.insert(hash).inserted {
                            duplicates += 1
                            return
                        }
                        ids.append(hash)
                    }
                    payload.append(contentsOf: view.bytes)
                    count += 1
                }
            }
            payload.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(count).littleEndian, toByteOffset: start + 1, as: UInt32.self) }
            if count > 0 {
                payload.withUnsafeBytes { log.add(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            }
            kept.append((start..<payload.count, count, duplicates, ids))
        }
        defer { payload.removeAll(keepingCapacity: true) }
        do throws(StorageIOError) {
            try log.write()
            if options.durability == .fsync { try log.sync() }
        } catch {
            // The log's state is unknown after a failed write or fsync: never trust or retry it; start another.
            report("shard \(index): \(error); abandoning \(log.file.path)")
            abandonLog()
            for append in group {
                append.completion(.failed(StoreError("storage write failed: \(error)")))
            }
            return
        }
        logHoldsAcknowledged = true
        let now = monotonicMilliseconds()
        for piece in kept where piece.count > 0 {
            // Skip the record's kind and count: the memtable holds bare event records.
            payload.withUnsafeBytes {
                memtable.append(UnsafeRawBufferPointer(rebasing: $0[(piece.range.lowerBound + 5)..<piece.range.upperBound]),
                                count: piece.count, now: now)
            }
            for id in piece.ids { dedup.insert(id) }
        }
        let snapshot = memtable.snapshot
        view.withLock { $0.active = snapshot }
        for (i, append) in group.enumerated() {
            append.completion(.stored(accepted: kept[i].count, duplicates: kept[i].duplicates))
        }
    }

    private func openNewLog() throws(StoreError) {
        logNumber += 1
        logHoldsAcknowledged = false
        let path = "\(directory)/\(Self.logName(logNumber))"
        do throws(StorageIOError) {
            log = LogWriter(file: try fs.create(path))
            try fs.syncDirectory(directory)
        } catch {
            log?.close()
            log = nil
            report("shard \(index): cannot start a new log: \(error)")
            throw StoreError("storage cannot open its log: \(error)", retryAfter: 5)
        }
    }

    private func abandonLog() {
        guard let log else { return }
        log.close()
        self.log = nil
        // Under a persistent fault every attempt would leave a file behind; one without acknowledged events goes.
        if !logHoldsAcknowledged { try? fs.remove(log.file.path) }
    }

    // MARK: Sealing

    private func tick() {
        sealIfDue()
        applyRetention()
    }

    private func sealIfDue(force: Bool = false) {
        guard !memtable.isEmpty else { return }
        let age = monotonicMilliseconds() - memtable.firstArrival
        guard force || memtable.count >= options.sealEvents || age >= options.sealInterval else { return }
        // Everything in the memtable is in logs numbered up to the current one; later appends go to a new log.
        let covered = logNumber
        log?.close()
        log = nil
        try? openNewLog()
        let frozen = memtable.snapshot
        memtable = Memtable()
        view.withLock { view in
            view.sealing.append(frozen)
            view.active = .empty
        }
        let number = nextSegmentNumber.add(1, ordering: .relaxed).oldValue
        let dedupImage = dedup.encoded()
        sealer.async { self.seal(frozen, number: number, covered: covered, dedupImage: dedupImage) }
    }

    /// Writes the segment, then the dedup window, then drops the logs it covers. Retries until it succeeds:
    /// a later seal must never remove logs an earlier, unfinished one still needs.
    private func seal(_ frozen: MemtableSnapshot, number: UInt64, covered: UInt64, dedupImage: [UInt8]) {
        let records = frozen.contiguous()
        let image: [UInt8]
        do throws(SegmentWriteError) {
            image = try records.withBytes { raw throws(SegmentWriteError) in try SegmentWriter.build(records: raw, walCovered: covered).image }
        } catch {
            // The events stay in the WAL and in the sealing memtable (still read by queries); nothing is deleted.
            report("shard \(index): cannot seal \(frozen.count) events: \(error)")
            return
        }
        let name = Self.segmentName(number)
        var attempt = 0
        while true {
            do throws(StorageIOError) {
                try publish(image, as: name)
                try publish(dedupImage, as: "dedup.ids")
                break
            } catch {
                attempt += 1
                report("shard \(index): sealing \(name) failed (attempt \(attempt)): \(error)")
                usleep(UInt32(min(5_000_000, 100_000 * attempt)))
            }
        }
        let segment: Segment
        do {
            segment = try Segment(path: "\(directory)/\(name)")
        } catch {
            report("shard \(index): a segment just written does not read back: \(error)")
            return
        }
        for (number, file) in logFiles() where number <= covered {
            try? fs.remove("\(directory)/\(file)")
        }
        view.withLock { view in
            view.segments.append(segment)
            view.sealing.removeFirst()
        }
        compactIfDue()
    }

    /// Merges the oldest small segments into one. The merged segment names the ones it replaces, so a crash
    /// before they are deleted cannot count their events twice: recovery deletes them then.
    private func compactIfDue() {
        let small = view.withLock { $0.segments }.filter { $0.rowCount < options.compactionRows }
        guard small.count >= options.compactionFanIn else { return }
        var chosen: [Segment] = []
        var rows = 0
        for segment in small where chosen.count < 2 || rows + segment.rowCount <= options.compactionRows {
            chosen.append(segment)
            rows += segment.rowCount
        }
        var records: [UInt8] = []
        do {
            for segment in chosen { try segment.appendRecords(to: &records) }
        } catch {
            report("shard \(index): compaction skipped: \(error)")
            return
        }
        let number = nextSegmentNumber.add(1, ordering: .relaxed).oldValue
        let name = Self.segmentName(number)
        let image: [UInt8]
        do throws(SegmentWriteError) {
            image = try records.withBytes { raw throws(SegmentWriteError) in
                try SegmentWriter.build(records: raw, walCovered: chosen.map(\.walCovered).max() ?? 0, replaces: chosen.map(\.number)).image
            }
        } catch {
            report("shard \(index): compaction skipped: \(error)")
            return
        }
        records = []
        let merged: Segment
        do {
            try publish(image, as: name)
            merged = try Segment(path: "\(directory)/\(name)")
        } catch {
            // The inputs stay as they are; the next seal tries again.
            report("shard \(index): compaction into \(name) failed: \(error)")
            try? fs.remove("\(directory)/\(name).tmp")
            return
        }
        let replaced = Set(chosen.map(\.number))
        view.withLock { view in
            view.segments.removeAll { replaced.contains($0.number) }
            view.segments.append(merged)
        }
        for segment in chosen { try? fs.remove(segment.path) }
        try? fs.syncDirectory(directory)
    }

    /// Writes `bytes` to a temporary file, fsyncs it, renames it into place, and fsyncs the directory.
    private func publish(_ bytes: [UInt8], as name: String) throws(StorageIOError) {
        let temporary = "\(directory)/\(name).tmp"
        let file = try fs.create(temporary)
        defer { file.close() }
        try bytes.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        try file.sync()
        try fs.rename(temporary, "\(directory)/\(name)")
        try fs.syncDirectory(directory)
    }

    private func applyRetention() {
        guard let days = options.retentionDays else { return }
        let cutoff = wallClockMilliseconds() - Int64(days) * 86_400_000
        let expired = view.withLock { view -> [Segment] in
            let expired = view.segments.filter { $0.maxTimestamp < cutoff }
            view.segments.removeAll { $0.maxTimestamp < cutoff }
            return expired
        }
        for segment in expired { try? fs.remove(segment.path) }
    }

    // MARK: Closing and reading

    /// Takes no more appends, commits what is queued, seals everything, and waits for the seals.
    func close() {
        incoming.withLock { $0.closed = true }
        writer.sync {
            timer?.cancel()
            drain()
            sealIfDue(force: true)
        }
        sealer.sync {}
        writer.sync {
            // The log opened after the last seal holds nothing: a cleanly closed shard keeps only segments.
            if let log, log.file.size == 0 {
                log.close()
                try? fs.remove(log.file.path)
                self.log = nil
            }
            log?.close()
        }
    }

    var snapshot: ShardSnapshot {
        view.withLock { ShardSnapshot(segments: $0.segments, memtables: $0.sealing + [$0.active]) }
    }

    // MARK: Recovery

    private func recover() throws(StoreError) {
        do throws(StorageIOError) {
            try fs.makeDirectory(directory)
            let names = try fs.list(directory)
            var covered: UInt64 = 0
            var segments: [Segment] = []
            for name in names where name.hasSuffix(".tmp") {
                try? fs.remove("\(directory)/\(name)")
            }
            for name in names where name.hasPrefix("seg-") && name.hasSuffix(".cseg") {
                guard let number = Self.number(in: name, prefix: "seg-", suffix: ".cseg") else { continue }
                if number >= nextSegmentNumber.load(ordering: .relaxed) { nextSegmentNumber.store(number + 1, ordering: .relaxed) }
                do {
                    let segment = try Segment(path: "\(directory)/\(name)")
                    covered = max(covered, segment.walCovered)
                    segments.append(segment)
                } catch {
                    report("corruption: \(error); the segment is left in place and not read")
                }
            }
            // A compaction that crashed before deleting its inputs left them behind: they are in the merged segment.
            let replaced = Set(segments.flatMap(\.replaces))
            for segment in segments where replaced.contains(segment.number) {
                try fs.remove(segment.path)
            }
            segments.removeAll { replaced.contains($0.number) }
            if fs.exists("\(directory)/dedup.ids"), !dedup.load(try fs.readAll("\(directory)/dedup.ids")) {
                report("corruption: \(directory)/dedup.ids is damaged; deduplication starts from the log")
            }
            var maxLog = covered
            for (number, name) in logFiles() {
                maxLog = max(maxLog, number)
                let path = "\(directory)/\(name)"
                if number <= covered {
                    try fs.remove(path)
                    continue
                }
                replay(path: path, bytes: try fs.readAll(path))
            }
            logNumber = maxLog
            view.withLock { view in
                view.segments = segments
                view.active = memtable.snapshot
            }
        } catch {
            throw StoreError("cannot open shard \(index): \(error)")
        }
        try openNewLog()
    }

    private func replay(path: String, bytes: [UInt8]) {
        var reader = LogReader(bytes: bytes, path: path)
        let now = monotonicMilliseconds()
        while let record = reader.next() {
            guard record.count >= 5, record[0] == 1 else {
                report("corruption: \(path): a record of unknown kind; the rest of this log is skipped")
                return
            }
            record.withUnsafeBytes { raw in
                let body = UnsafeRawBufferPointer(rebasing: raw[5...])
                var count = 0
                let complete = EventRecordView.forEach(in: body) { view in
                    if !view.eventID.isEmpty { dedup.insert(DedupWindow.hash(view.eventID)) }
                    count += 1
                }
                if complete {
                    memtable.append(body, count: count, now: now)
                } else {
                    report("corruption: \(path): a record holds malformed events; it is skipped")
                }
            }
        }
        switch reader.end {
        case .corruption(let damage)?:
            report("corruption: \(damage); events before it are kept, the rest of this log is not read")
        case .tornTail(let offset)?:
            report("\(path): dropped an incomplete last record at byte \(offset) (a write cut short)")
        default:
            break
        }
    }

    private func logFiles() -> [(UInt64, String)] {
        ((try? fs.list(directory)) ?? []).compactMap { name in
            Self.number(in: name, prefix: "wal-", suffix: ".log").map { ($0, name) }
        }.sorted { $0.0 < $1.0 }
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
