import ClarmSystem
import Dispatch

/// A frozen memtable on its way to becoming `seg-number.cseg`, with the ids of its events.
struct PendingSeal {
    let number: UInt64
    /// The highest log number whose events are all in `memtable` or in earlier seals.
    let covered: UInt64
    let memtable: MemtableSnapshot
    /// Bytes `memtable` holds against the memory budget.
    let bytes: Int
    let ids: [(hash: UInt64, arrival: UInt32)]
}

/// Sealing: the writer freezes the memtable, the sealer publishes it as a segment, in order, retrying with
/// backoff while it fails; the events stay in their logs until then.
extension Shard {
    /// On the writer: freezes the memtable when it is full (events or bytes), old enough, or `force`d.
    func sealIfDue(force: Bool = false) {
        guard !memtable.isEmpty else { return }
        let age = monotonicMilliseconds() - memtable.firstArrival
        guard force || memtable.count >= options.sealEvents || memtable.bytes >= options.sealBytes
            || age >= options.sealInterval else { return }
        // Everything in the memtable is in logs numbered up to the current one; later appends go to a new log.
        let covered = logNumber
        log?.close()
        log = nil
        try? openNewLog()
        let seal = PendingSeal(number: nextSegmentNumber.add(1, ordering: .relaxed).oldValue, covered: covered,
                               memtable: memtable.snapshot, bytes: memtable.bytes,
                               ids: dedup.newest(dedup.insertedSinceSeal))
        dedup.resetInsertedSinceSeal()
        memtable = Memtable()
        view.withLock { view in
            view.sealing.append((seal.number, seal.memtable))
            view.active = .empty
        }
        sealer.async {
            self.pendingSeals.append(seal)
            if !self.sealRetryScheduled { self.runSeals() }
        }
    }

    /// On the sealer: publishes pending seals oldest first. One that fails stops the line (a later seal
    /// must never delete logs an earlier one still needs) and is retried after a backoff.
    func runSeals() {
        guard !stopped.load(ordering: .relaxed) else { return }
        while let seal = pendingSeals.first {
            do throws(StoreError) {
                try publish(seal)
            } catch {
                let delay = sealBackoff.next()
                let message = "sealing \(Self.segmentName(seal.number)) failed \(sealBackoff.failures) times: \(error); "
                    + "its events stay in the log"
                report("shard \(index): \(message); next attempt in \(delay) ms")
                noteProblem(.seal, message)
                if !sealRetryScheduled {
                    sealRetryScheduled = true
                    sealer.asyncAfter(deadline: .now() + .milliseconds(Int(delay))) {
                        self.sealRetryScheduled = false
                        self.runSeals()
                    }
                }
                return
            }
            pendingSeals.removeFirst()
            sealBackoff.reset()
            clearProblem(.seal)
        }
        maintain()
    }

    /// Writes the seal's ids, then its segment, reads the segment back whole, and only then drops the logs
    /// it covers and its memtable.
    private func publish(_ seal: PendingSeal) throws(StoreError) {
        let started = monotonicMicroseconds()
        defer { metrics.sealSeconds.observe(micro: Int(monotonicMicroseconds() - started)) }
        // Encoding holds a copy of the records and the encoder's dictionaries: it counts against the limit.
        budget.take(2 * seal.bytes)
        defer { budget.release(2 * seal.bytes) }
        let image = try buildSegment(records: seal.memtable.contiguous(), walCovered: seal.covered)
        let name = Self.segmentName(seal.number)
        do throws(StorageIOError) {
            if !seal.ids.isEmpty {
                try fs.publish(DedupFile.encode(seal.ids), as: path(DedupFile.name(seal.number)), in: directory)
            }
            try fs.publish(image, as: path(name), in: directory)
        } catch {
            try? fs.remove(path(name + ".tmp"))
            throw StoreError("\(error)")
        }
        let segment = try openPublished(name)
        releaseLogs(coveredThrough: seal.covered)
        view.withLock { view in
            view.segments.append(segment)
            view.sealing.removeAll { $0.number == seal.number }
        }
        budget.release(seal.bytes)
        if !seal.ids.isEmpty {
            dedupFiles.append(DedupFileInfo(number: seal.number, count: seal.ids.count, newest: seal.ids.last!.arrival))
        }
        pruneDedupFiles()
    }

    /// Opens a segment just published and checks all of it; one that does not read back is removed, so
    /// nothing it was to replace is ever deleted in its favour.
    func openPublished(_ name: String) throws(StoreError) -> Segment {
        do throws(SegmentCorruption) {
            let segment = try fs.openSegment(path(name))
            try segment.verify()
            return segment
        } catch {
            try? fs.remove(path(name))
            try? fs.syncDirectory(directory)
            throw StoreError("\(name) does not read back: \(error.reason)")
        }
    }

    /// A segment image of `records`. An input the writer cannot encode within its limits fails like any
    /// other seal or compaction: the inputs stay, the shard reports it and retries after a backoff.
    func buildSegment(records: [UInt8], walCovered: UInt64, replaces: [UInt64] = []) throws(StoreError) -> [UInt8] {
        do throws(SegmentWriteError) {
            return try records.withBytes { raw throws(SegmentWriteError) in
                try SegmentWriter.build(records: raw, walCovered: walCovered, replaces: replaces).image
            }
        } catch {
            throw StoreError("cannot encode the segment: \(error)")
        }
    }
}
