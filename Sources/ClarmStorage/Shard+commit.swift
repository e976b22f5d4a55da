import ClarmEvents
import ClarmSystem

/// Appending: group commit on the writer queue, and what happens to a log whose write or fsync failed.
extension Shard {
    /// Bytes of records one group commit takes at most (and at least one append): what a commit encodes into
    /// its log buffer stays bounded however many appends wait.
    static let groupBytes = 8 << 20

    /// Takes every queued append at once by swapping buffers with `incoming` (nothing moves under its lock,
    /// however long the queue grew while an fsync stalled), then commits them in groups of at most
    /// `groupBytes`, each a slice of the taken buffer: every record byte is copied once on its way in and
    /// never moved again before the commit.
    func drain() {
        while true {
            incoming.withLock { incoming in
                swap(&incoming.records, &groupRecords)
                swap(&incoming.appends, &group)
                incoming.scheduled = !group.isEmpty
            }
            if group.isEmpty { return }
            var first = group.startIndex
            while first < group.endIndex {
                var end = first + 1
                while end < group.endIndex, group[end].range.upperBound - group[first].range.lowerBound <= Self.groupBytes {
                    end += 1
                }
                commit(first..<end)
                sealIfDue()
                moveToSpareLogWhenFull()
                first = end
            }
            // A buffer that grew with a backlog is not kept: it would hold its peak in memory for good.
            groupRecords.removeAll(keepingCapacity: groupRecords.capacity <= 2 * Self.groupBytes)
            group.removeAll(keepingCapacity: true)
        }
    }

    /// Commits the appends `slice` of `group`, whose records are back to back in `groupRecords`.
    func commit(_ slice: Range<Int>) {
        let appends = group[slice]
        // The appends reserved their records' bytes; what the memtable does not keep is given back.
        let reserved = appends[slice.upperBound - 1].range.upperBound - appends[slice.lowerBound].range.lowerBound
        func fail(_ error: StoreError) {
            payload.removeAll(keepingCapacity: true)
            budget.release(reserved)
            options.completionRound { for append in appends { append.completion(.failed(error)) } }
        }
        if log == nil {
            do throws(StoreError) { try openNewLog() } catch {
                return fail(error)
            }
        }
        guard let log else { return }
        // Drop events whose id this shard already holds, or that an earlier append of this group carries.
        // The scratch is kept from group to group (a set that grew with a backlog only up to a bound).
        groupIDs.removeAll(keepingCapacity: groupIDs.capacity <= 1 << 16)
        pieces.removeAll(keepingCapacity: true)
        for append in appends {
            let start = payload.count
            payload.append(1)
            payload.append(contentsOf: [0, 0, 0, 0])
            var piece = GroupPiece(range: start..<start)
            _ = groupRecords.withUnsafeBytes { all in
                EventRecordView.forEach(in: UnsafeRawBufferPointer(rebasing: all[append.range])) { view in
                    if !view.eventID.isEmpty {
                        let hash = DedupWindow.hash(view.eventID)
                        if dedup.contains(hash) || !groupIDs.insert(hash).inserted {
                            piece.duplicates += 1
                            return
                        }
                    }
                    payload.append(contentsOf: view.bytes)
                    piece.count += 1
                }
            }
            payload.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(piece.count).littleEndian, toByteOffset: start + 1, as: UInt32.self) }
            piece.range = start..<payload.count
            pieces.append(piece)
        }
        for piece in pieces where piece.count > 0 {
            payload.withUnsafeBytes { log.add(UnsafeRawBufferPointer(rebasing: $0[piece.range])) }
        }
        do throws(StorageIOError) {
            try log.write()
            if options.durability == .fsync {
                let started = monotonicMicroseconds()
                try log.sync()
                metrics.fsyncSeconds.observe(micro: Int(monotonicMicroseconds() - started))
            }
            metrics.groupSize.observe(Double(slice.count))
        } catch {
            abandonFailedLog(error)
            return fail(StoreError("storage write failed: \(error)"))
        }
        // The memtable keeps bare event records: not the 5 bytes of kind and count, nor duplicates.
        budget.release(reserved - pieces.reduce(0) { $0 + ($1.count > 0 ? $1.range.count - 5 : 0) })
        logHoldsAcknowledged = true
        acknowledgedLogSize = log.file.size
        feeds.committed(log: logNumber, size: acknowledgedLogSize)
        let now = monotonicMilliseconds()
        let arrival = wallClockSeconds()
        for piece in pieces where piece.count > 0 {
            payload.withUnsafeBytes {
                memtable.append(UnsafeRawBufferPointer(rebasing: $0[(piece.range.lowerBound + 5)..<piece.range.upperBound]),
                                count: piece.count, now: now)
            }
        }
        for id in groupIDs { dedup.insert(id, arrival: arrival) }
        payload.removeAll(keepingCapacity: true)
        let snapshot = memtable.snapshot
        view.withLock { $0.active = snapshot }
        options.completionRound {
            for (i, append) in appends.enumerated() {
                append.completion(.stored(accepted: pieces[i].count, duplicates: pieces[i].duplicates))
            }
        }
    }

    func openNewLog() throws(StoreError) {
        feeds.rolled(closing: logNumber, acknowledged: logHoldsAcknowledged ? acknowledgedLogSize : 0, opening: logNumber + 1)
        logNumber += 1
        logHoldsAcknowledged = false
        acknowledgedLogSize = 0
        do throws(StorageIOError) {
            log = LogWriter(file: try createLogFile(path(Self.logName(logNumber))))
            try fs.syncDirectory(directory)
            clearProblem(.log)
            prepareSpareLog()
        } catch {
            log?.close()
            log = nil
            report("shard \(index): cannot start a new log: \(error)")
            noteProblem(.log, "cannot start a new log: \(error)")
            throw StoreError("storage cannot open its log: \(error)", retryAfter: 5)
        }
    }

    /// After a failed write or fsync the log may hold bytes of the group that got 503: they must never be
    /// replayed. Cut the log back to its commit point; if even that fails, record the commit point beside it
    /// (`wal-N.valid`) for recovery. Then the log is never written again.
    private func abandonFailedLog(_ error: StorageIOError) {
        guard let log else { return }
        report("shard \(index): \(error); abandoning \(log.file.path) at its last acknowledged byte \(acknowledgedLogSize)")
        if logHoldsAcknowledged {
            do throws(StorageIOError) {
                try log.file.truncate(to: acknowledgedLogSize)
            } catch {
                report("shard \(index): cannot cut \(log.file.path) back: \(error); recording its commit point instead")
                do throws(StorageIOError) {
                    try fs.publish(LogCommitPoint.encode(acknowledgedLogSize), as: path(LogCommitPoint.name(logNumber)), in: directory)
                } catch {
                    report("shard \(index): cannot record the commit point of \(log.file.path) either: \(error); "
                           + "if the process dies before this log is sealed, its unacknowledged tail may be replayed")
                }
            }
        }
        abandonLog()
    }

    /// Stops writing the current log; one without acknowledged events goes (under a persistent fault every
    /// attempt would otherwise leave a file behind).
    func abandonLog() {
        guard let log else { return }
        log.close()
        self.log = nil
        if !logHoldsAcknowledged { removeLog(logNumber) }
    }

    /// Forgets ids older than the window, and says (at most once a minute) when the cap shortened it.
    func expireDedup() {
        let now = wallClockSeconds()
        dedup.expire(now: now)
        metrics.dedupWindowSeconds.set(Int(dedup.coveredSeconds(now: now)), at: index)
        let monotonic = monotonicMilliseconds()
        if dedup.shortened, monotonic - shortenedReportedAt >= 60_000 {
            shortenedReportedAt = monotonic
            dedup.resetShortened()
            report("shard \(index): the deduplication window holds its maximum of \(dedup.capacity) ids, "
                   + "which now cover \(dedup.coveredSeconds(now: now)) s instead of \(dedup.span) s")
        }
    }
}

/// One append of a group as the log and the memtable take it: `range` of the shard's `payload`, a 5-byte
/// header (kind, count) and the records that are not duplicates.
struct GroupPiece {
    var range: Range<Int>
    var count = 0
    var duplicates = 0
}

/// Wall-clock seconds, the unit of deduplication arrival times.
func wallClockSeconds() -> UInt32 {
    UInt32(clamping: wallClockMilliseconds() / 1000)
}
