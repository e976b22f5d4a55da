import ClarmEvents
import ClarmSystem
import Dispatch

/// Where the shard's purge of erased visitors stands; any thread, under `Shard.purgeState`.
struct PurgeState {
    /// A tombstone was recorded (or held back) since the last purge took its set of tombstones.
    var wanted = false
    /// A purge is between its start on the writer and its end on the sealer: at most one at a time.
    var running = false
    /// Tests hold purges back to look at the state before them.
    var paused = false
    /// Monotonic milliseconds before which no purge starts: a tombstone whose visitor still has events in
    /// the memtable waits for them to be sealed (and dropped) by age.
    var notBefore: Int64 = 0
    var backoff = Backoff()
}

/// One purge: the tombstones it was started for, and the first log opened after its seal.
struct PurgeRun {
    let erased: ErasureSet
    /// Logs numbered below it hold no event that is not in a segment (or erased): the purge deletes them.
    let boundary: UInt64
}

/// The physical step of erasure (README "Erasure", docs/FORMAT.md "Erasures"). After a tombstone is
/// recorded, the writer seals the memtable (the seal leaves erased visitors out and deletes the logs it
/// covers); then the sealer deletes any log older than that seal, rewrites every segment whose dictionaries
/// hold an erased (site, visitor) pair without those rows, and retires the tombstones no memtable holds.
/// Purges of a shard run one at a time; erasures that arrive during one are taken by the next.
extension Shard {
    /// Asks for a purge; starts one now unless one is running, purges are paused, or it is not yet due.
    func requestPurge() {
        purgeState.withLock { $0.wanted = true }
        startPurgeIfDue()
    }

    /// Called after `requestPurge` and once a second (`tick`): starts a wanted purge once it is due.
    func startPurgeIfDue() {
        let start = purgeState.withLock { state -> Bool in
            guard state.wanted, !state.running, !state.paused, monotonicMilliseconds() >= state.notBefore else { return false }
            state.running = true
            return true
        }
        if start { writer.async { self.beginPurge() } }
    }

    /// On the writer: takes the tombstones standing now, seals the memtable, and hands the purge to the sealer,
    /// behind that seal.
    private func beginPurge() {
        guard !stopped.load(ordering: .relaxed) else { return }
        // Cleared before the set is read: a tombstone recorded after this asks for the next purge.
        purgeState.withLock { $0.wanted = false }
        let erased = view.withLock { $0.erased }
        sealIfDue(force: true)
        let run = PurgeRun(erased: erased, boundary: logNumber)
        sealer.async { self.purge(run) }
    }

    /// On the sealer, after the seal `beginPurge` queued. A failure leaves every file as it was (or as a crash
    /// there would) and is retried after a backoff; the tombstones stay and keep hiding the visitors meanwhile.
    private func purge(_ run: PurgeRun) {
        guard !stopped.load(ordering: .relaxed) else { return }
        do throws(StoreError) {
            // A seal still failing holds events of the logs below the boundary: wait for it.
            guard pendingSeals.isEmpty else { throw StoreError("a seal has to succeed first") }
            let logsGone = try removeLogs(below: run.boundary)
            if !run.erased.isEmpty {
                for segment in view.withLock({ $0.segments }) {
                    let holds: Bool
                    do throws(SegmentCorruption) { holds = try segment.holdsAny(of: run.erased) } catch {
                        throw StoreError("\(segment.path) does not read: \(error.reason)")
                    }
                    if holds { try rewriteWithoutErased(segment) }
                }
            }
            try retire(run.erased, logsGone: logsGone)
        } catch {
            let delay = purgeState.withLock { $0.backoff.next() }
            let message = "purging erased visitors failed: \(error); the visitors stay hidden"
            report("shard \(index): \(message); next attempt in \(delay) ms")
            noteProblem(.erasure, message)
            // The next attempt starts over (a new seal and boundary): events the visitors sent meanwhile may sit
            // in logs above this run's boundary.
            purgeState.withLock { state in
                state.running = false
                state.wanted = true
                state.notBefore = monotonicMilliseconds() + Int64(delay)
            }
            return
        }
        clearProblem(.erasure)
        purgeState.withLock { state in
            state.running = false
            state.backoff.reset()
        }
        startPurgeIfDue()
    }

    /// Deletes the logs numbered below `boundary`: the purge's seal (and those before it) covered them, and any
    /// event of theirs not in a segment was erased at replay. Logs that change-feed consumers have not read yet
    /// stay until they have (`releaseLogs`, within `--feed-retention-bytes`): false then. Fails while a log no
    /// consumer needs is still there.
    private func removeLogs(below boundary: UInt64) throws(StoreError) -> Bool {
        guard boundary > 0, logFiles().contains(where: { $0.0 < boundary }) else { return true }
        releaseLogs(coveredThrough: boundary - 1)
        do throws(StorageIOError) { try fs.syncDirectory(directory) } catch { throw StoreError("\(error)") }
        let left = logFiles().filter { $0.0 < boundary }
        let oldestNeeded = feeds.oldestNeededLog ?? .max
        if let stuck = left.first(where: { $0.0 < oldestNeeded }) {
            throw StoreError("cannot delete \(path(stuck.1))")
        }
        return left.isEmpty
    }

    /// Writes `segment` again without the events of the visitors erased now, verifies the new file, swaps it in
    /// and deletes the old one. The new segment lists the old one (and what that replaced) in `replaces`, so a
    /// crash before the old file is gone deletes it at the next start; it covers the same logs.
    private func rewriteWithoutErased(_ segment: Segment) throws(StoreError) {
        var records: [UInt8] = []
        do throws(SegmentCorruption) { try segment.appendRecords(to: &records) } catch {
            throw StoreError("\(segment.path) does not read: \(error.reason)")
        }
        // The decoded rows, what is kept of them and the encoder's dictionaries count against the limit.
        let working = 3 * records.count
        budget.take(working)
        defer { budget.release(working) }
        let erased = view.withLock { $0.erased }
        var kept: [UInt8] = []
        let purged = records.withBytes { Self.append($0, without: erased, to: &kept) }
        records = []
        if kept.isEmpty {
            try removeWhole(segment)
        } else {
            let name = Self.segmentName(nextSegmentNumber.add(1, ordering: .relaxed).oldValue)
            let image = try buildSegment(records: kept, walCovered: segment.walCovered,
                                         replaces: [segment.number] + segment.replaces)
            kept = []
            do throws(StorageIOError) {
                try fs.publish(image, as: path(name), in: directory)
            } catch {
                try? fs.remove(path(name + ".tmp"))
                throw StoreError("\(error)")
            }
            let rewritten = try openPublished(name)
            view.withLock { view in
                view.segments.removeAll { $0.number == segment.number }
                view.segments.append(rewritten)
            }
            try? fs.remove(segment.path)
            try? fs.syncDirectory(directory)
        }
        metrics.erasureSegmentsRewritten.add()
        metrics.erasureEventsPurged.add(purged)
    }

    /// A segment that held only erased events goes without a successor. What it replaced would come back at the
    /// next start without it listing them, so leftovers of those go first; the logs it covers are gone already
    /// (`removeLogs`), so no replay brings its events back either.
    private func removeWhole(_ segment: Segment) throws(StoreError) {
        do throws(StorageIOError) {
            for number in segment.replaces where fs.exists(path(Self.segmentName(number))) {
                try fs.remove(path(Self.segmentName(number)))
            }
            try fs.remove(segment.path)
            view.withLock { $0.segments.removeAll { $0.number == segment.number } }
            try fs.syncDirectory(directory)
        } catch {
            throw StoreError("\(error)")
        }
    }

    /// Drops the tombstones of `erased` whose visitor no memtable holds: the purge has left none in segments or
    /// logs. One whose visitor sent events since stays, and the next purge comes once those are sealed. While
    /// change-feed consumers still hold logs below the purge's boundary (`logsGone` false), every tombstone
    /// stays (the feed skips the visitors' events meanwhile) and the purge is tried again a seal interval later.
    private func retire(_ erased: ErasureSet, logsGone: Bool) throws(StoreError) {
        guard !erased.isEmpty else { return }
        guard logsGone else {
            purgeState.withLock { state in
                state.wanted = true
                state.notBefore = monotonicMilliseconds() + options.sealInterval
            }
            return
        }
        let memtables = view.withLock { $0.sealing.map(\.memtable) + [$0.active] }
        var held = ErasureSet()
        for memtable in memtables {
            memtable.forEachChunk { chunk in
                Self.forEachErased(in: chunk, erased) { held.insert($0) }
            }
        }
        try erasureFile.withLock { _ throws(StoreError) in
            var remaining = view.withLock { $0.erased }
            for tombstone in erased.tombstones where !held.contains(tombstone) { remaining.remove(tombstone) }
            guard remaining != view.withLock({ $0.erased }) else { return }
            try saveErasures(remaining)
            view.withLock { $0.erased = remaining }
        }
        if !held.isEmpty {
            purgeState.withLock { state in
                state.wanted = true
                state.notBefore = monotonicMilliseconds() + options.sealInterval
            }
        }
    }

    /// Appends the events of `records` whose visitor is not erased to `kept`; returns how many it left out.
    /// A visitor's events are usually next to each other, so the verdict for the previous one is reused.
    static func append(_ records: UnsafeRawBufferPointer, without erased: ErasureSet, to kept: inout [UInt8]) -> Int {
        guard !erased.isEmpty else {
            kept.append(contentsOf: records)
            return 0
        }
        var dropped = 0
        var previous: (site: UnsafeRawBufferPointer, visitor: UnsafeRawBufferPointer, erased: Bool)?
        _ = EventRecordView.forEach(in: records) { view in
            let isErased: Bool
            if let previous, previous.site.elementsEqual(view.site), previous.visitor.elementsEqual(view.visitorID) {
                isErased = previous.erased
            } else {
                isErased = erased.contains(site: view.site, visitor: view.visitorID)
                previous = (view.site, view.visitorID, isErased)
            }
            if isErased { dropped += 1 } else { kept.append(contentsOf: view.bytes) }
        }
        return dropped
    }

    /// Calls `body` with the tombstone of each event of `records` that `erased` holds.
    private static func forEachErased(in records: UnsafeRawBufferPointer, _ erased: ErasureSet,
                                      _ body: (ErasureSet.Tombstone) -> Void) {
        _ = EventRecordView.forEach(in: records) { view in
            if erased.contains(site: view.site, visitor: view.visitorID) {
                body(ErasureSet.Tombstone(site: Array(view.site), visitor: Array(view.visitorID)))
            }
        }
    }
}

extension MemtableSnapshot {
    /// All records in one contiguous buffer, without the events of `erased` visitors (for sealing), and how
    /// many were left out.
    func contiguous(without erased: ErasureSet) -> (records: [UInt8], dropped: Int) {
        var out: [UInt8] = []
        out.reserveCapacity(bytes)
        var dropped = 0
        forEachChunk { dropped += Shard.append($0, without: erased, to: &out) }
        return (out, dropped)
    }
}

extension Segment {
    /// Whether the segment may hold an event of an erased visitor, decided on its dictionaries: some site it
    /// holds has erased visitors, and its `visitor_id` dictionary holds one of them. A visitor id erased on
    /// one site and present here on another only costs a rewrite that keeps every row.
    func holdsAny(of erased: ErasureSet) throws(SegmentCorruption) -> Bool {
        let sites = try dictionary(.site)
        var visitors = Set<[UInt8]>()
        for id in 0..<sites.count { visitors.formUnion(erased.visitors(site: Array(sites.value(id)))) }
        guard !visitors.isEmpty else { return false }
        let dictionary = try dictionary(.visitor_id)
        return (0..<dictionary.count).contains { visitors.contains(Array(dictionary.value($0))) }
    }
}
