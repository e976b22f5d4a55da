import ClarmEvents
import ClarmSystem

/// One `ids-N.dedup` file: enough to know when it may go.
struct DedupFileInfo {
    let number: UInt64
    let count: Int
    /// Arrival (wall-clock seconds) of its newest id.
    let newest: UInt32
}

/// Retention, compaction and pruning of dedup files, all on the sealer queue: one at a time, and after the
/// seals queued before them, so none deletes or merges a segment another is working on.
extension Shard {
    /// Retention first, so compaction never merges a segment that has expired (it would live on inside the merge).
    func maintain() {
        applyRetention()
        compactIfDue()
        releaseLogs(coveredThrough: view.withLock { $0.segments.map(\.walCovered).max() ?? 0 })
    }

    /// Deletes segments whose newest event is older than the retention.
    /// Events older than this are past `--retention-days`; nil keeps everything.
    private var retentionCutoff: Int64? {
        options.retentionDays.map { wallClockMilliseconds() - Int64($0) * 86_400_000 }
    }

    private func applyRetention() {
        guard let cutoff = retentionCutoff else { return }
        let expired = view.withLock { view -> [Segment] in
            let expired = view.segments.filter { $0.maxTimestamp < cutoff }
            view.segments.removeAll { $0.maxTimestamp < cutoff }
            return expired
        }
        for segment in expired { try? fs.remove(segment.path) }
        if !expired.isEmpty { try? fs.syncDirectory(directory) }
    }

    /// Merges the oldest small segments into one. The merged segment names the ones it replaces, so a crash
    /// before they are deleted cannot count their events twice: recovery deletes them then.
    ///
    /// Memory is bounded like a seal's: a segment is small when it has fewer than `compactionRows` rows and
    /// decodes to less than half of `sealBytes`, and a merge stops taking inputs once their records reach
    /// `sealBytes` (it takes at least two).
    private func compactIfDue() {
        guard monotonicMilliseconds() >= compactionNotBefore else { return }
        let small = view.withLock { $0.segments }.filter {
            $0.rowCount < options.compactionRows && $0.decodedBytes < options.sealBytes / 2
        }
        guard small.count >= options.compactionFanIn else { return }
        let started = monotonicMicroseconds()
        defer { metrics.compactionSeconds.observe(micro: Int(monotonicMicroseconds() - started)) }
        let name = Self.segmentName(nextSegmentNumber.add(1, ordering: .relaxed).oldValue)
        let merged: Segment
        var chosen: [Segment] = []
        do throws(StoreError) {
            var records: [UInt8] = []
            var rows = 0
            do throws(SegmentCorruption) {
                for segment in small {
                    if chosen.count >= 2, rows + segment.rowCount > options.compactionRows || records.count >= options.sealBytes { break }
                    try segment.appendRecords(to: &records)
                    chosen.append(segment)
                    rows += segment.rowCount
                }
            } catch {
                throw StoreError("an input does not read: \(error)")
            }
            // Expired events are not carried into the merged segment, whose newest event would keep them alive.
            if let cutoff = retentionCutoff { records = Self.keeping(from: cutoff, records) }
            // The records and the encoder's dictionaries count against the memory limit while they live.
            let working = 2 * records.count
            budget.take(working)
            defer { budget.release(working) }
            let image = try buildSegment(records: records, walCovered: chosen.map(\.walCovered).max() ?? 0,
                                         replaces: chosen.map(\.number) + chosen.flatMap(\.replaces))
            records = []
            do throws(StorageIOError) {
                try fs.publish(image, as: path(name), in: directory)
            } catch {
                try? fs.remove(path(name + ".tmp"))
                throw StoreError("\(error)")
            }
            merged = try openPublished(name)
        } catch {
            // The inputs stay as they are; a later turn tries again, after a backoff.
            let delay = compactionBackoff.next()
            compactionNotBefore = monotonicMilliseconds() + delay
            let message = "compaction into \(name) failed \(compactionBackoff.failures) times: \(error); its inputs stay"
            report("shard \(index): \(message); next attempt in \(delay) ms or later")
            noteProblem(.compaction, message)
            return
        }
        compactionBackoff.reset()
        clearProblem(.compaction)
        let replaced = Set(chosen.map(\.number))
        view.withLock { view in
            view.segments.removeAll { replaced.contains($0.number) }
            view.segments.append(merged)
        }
        for segment in chosen { try? fs.remove(segment.path) }
        try? fs.syncDirectory(directory)
    }

    /// Deletes `ids-N.dedup` files the window no longer needs: those whose newest id is older than the window,
    /// and the oldest ones while the newer files alone hold the window's capacity.
    func pruneDedupFiles() {
        let oldest = Int64(wallClockSeconds()) - options.dedupWindow
        var newerIDs = dedupFiles.reduce(0) { $0 + $1.count }
        var drop = 0
        for file in dedupFiles {
            newerIDs -= file.count
            guard Int64(file.newest) < oldest || newerIDs >= options.dedupMaxIDs else { break }
            drop += 1
        }
        for file in dedupFiles.prefix(drop) { try? fs.remove(path(DedupFile.name(file.number))) }
        dedupFiles.removeFirst(drop)
    }

    /// `records` without the events older than `cutoff`.
    static func keeping(from cutoff: Int64, _ records: [UInt8]) -> [UInt8] {
        var kept: [UInt8] = []
        kept.reserveCapacity(records.count)
        records.withUnsafeBytes { raw in
            _ = EventRecordView.forEach(in: raw) { view in
                if view.timestamp >= cutoff { kept.append(contentsOf: view.bytes) }
            }
        }
        return kept
    }
}

extension Segment {
    /// Bytes its blocks and dictionaries decode to: about what merging it costs in memory.
    var decodedBytes: Int {
        columns.reduce(0) { total, column in
            total + column.blocks.reduce(0) { $0 + $1.rawLength } + column.dictionaryBlocks.reduce(0) { $0 + $1.ref.rawLength }
        }
    }

}
