import ClarmEvents
import ClarmSystem

/// Opening a shard: segments, then the dedup window from its files, then the logs the segments do not
/// cover, replayed through the window so an event is restored once however many logs hold it.
extension Shard {
    func recover() throws(StoreError) {
        do throws(StorageIOError) {
            try fs.makeDirectory(directory)
            let names = try fs.list(directory)
            for name in names where name.hasSuffix(".tmp") {
                try? fs.remove(path(name))
            }
            var covered: UInt64 = 0
            var segments: [Segment] = []
            for name in names {
                guard let number = Self.number(in: name, prefix: "seg-", suffix: ".cseg") else { continue }
                raiseNextSegmentNumber(past: number)
                do {
                    let segment = try fs.openSegment(path(name))
                    covered = max(covered, segment.walCovered)
                    segments.append(segment)
                } catch {
                    report("corruption: \(error); the segment is left in place and not read")
                }
            }
            // A compaction that crashed before deleting its inputs left them behind: they are in the merged segment.
            let replaced = Set(segments.flatMap(\.replaces))
            for segment in segments where replaced.contains(segment.number) {
                do throws(StorageIOError) { try fs.remove(segment.path) } catch {
                    report("\(segment.path) was merged into another segment but cannot be deleted: \(error); it is not read")
                }
            }
            segments.removeAll { replaced.contains($0.number) }
            if names.contains(DedupFile.legacyName) { convertLegacyDedupFile() }
            loadDedupFiles(try fs.list(directory))
            let erased = try loadErasures()
            var maxLog = covered
            // Replay drops an id only when an earlier replayed record holds it. The ids files are not consulted:
            // a seal writes its ids before its segment, so after a crash (or a failed publish) between the two
            // they name events that are still only in these logs, and must be replayed. No log above `covered`
            // holds an event that is also in a segment: commits reject ids already in the window.
            var replayed = Set<UInt64>()
            loadFeedCursors(names)
            for (number, name) in logFiles() {
                maxLog = max(maxLog, number)
                // Logs the segments cover are only kept for the change feed (`releaseLogs`).
                if number <= covered { continue }
                replay(path: path(name), bytes: try acknowledgedBytes(ofLog: number), erased: erased, replayed: &replayed)
            }
            releaseLogs(coveredThrough: covered)
            // Log numbers never go back below a consumer's cursor: with every segment that covered its logs
            // gone (retention), numbering from `covered` again would put new events in logs it takes as read.
            maxLog = max(maxLog, feeds.cursors.withLock { $0.values.map(\.position.log).max() ?? 0 })
            // A commit point whose log is gone belongs to nothing.
            for name in names where name.hasSuffix(".valid") {
                if let number = Self.number(in: name, prefix: "wal-", suffix: ".valid"), !fs.exists(path(Self.logName(number))) {
                    try? fs.remove(path(name))
                }
            }
            logNumber = maxLog
            // Replayed events are buffered whatever the limit: they were acknowledged.
            budget.take(memtable.bytes)
            view.withLock { view in
                view.segments = segments
                view.erased = erased
                view.active = memtable.snapshot
            }
        } catch {
            throw StoreError("cannot open shard \(index): \(error)")
        }
        try openNewLog()
    }

    private func raiseNextSegmentNumber(past number: UInt64) {
        if number >= nextSegmentNumber.load(ordering: .relaxed) { nextSegmentNumber.store(number + 1, ordering: .relaxed) }
    }

    /// Fills the window from the `ids-N.dedup` files, oldest first, dropping what has expired.
    private func loadDedupFiles(_ names: [String]) {
        let files = names.compactMap { name in DedupFile.number(in: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }
        for (number, name) in files {
            raiseNextSegmentNumber(past: number)
            guard let ids = (try? fs.readAll(path(name))).flatMap(DedupFile.decode) else {
                report("corruption: \(path(name)) is damaged; its ids are not deduplicated against")
                continue
            }
            for id in ids { dedup.insert(id.hash, arrival: id.arrival) }
            if let newest = ids.last { dedupFiles.append(DedupFileInfo(number: number, count: ids.count, newest: newest.arrival)) }
        }
        dedup.expire(now: wallClockSeconds())
        dedup.resetInsertedSinceSeal()
        dedup.resetShortened()
    }

    /// Rewrites an earlier version's `dedup.ids` as `ids-0.dedup`, its ids arrived now, then removes it.
    private func convertLegacyDedupFile() {
        let legacy = path(DedupFile.legacyName)
        guard let hashes = (try? fs.readAll(legacy)).flatMap(DedupFile.decodeLegacy) else {
            report("corruption: \(legacy) is damaged; its ids are not deduplicated against")
            return
        }
        let arrival = wallClockSeconds()
        do throws(StorageIOError) {
            try fs.publish(DedupFile.encode(hashes.map { ($0, arrival) }), as: path(DedupFile.name(0)), in: directory)
            try fs.remove(legacy)
        } catch {
            report("shard \(index): cannot convert \(legacy): \(error)")
        }
    }

    /// A log's bytes up to its recorded commit point, if a failed write left one (docs/FORMAT.md).
    private func acknowledgedBytes(ofLog number: UInt64) throws(StorageIOError) -> [UInt8] {
        let bytes = try fs.readAll(path(Self.logName(number)))
        let marker = path(LogCommitPoint.name(number))
        guard fs.exists(marker) else { return bytes }
        guard let length = LogCommitPoint.decode(try fs.readAll(marker)) else {
            report("corruption: \(marker) is damaged; \(Self.logName(number)) is replayed whole")
            return bytes
        }
        if length < bytes.count {
            report("\(path(Self.logName(number))): \(bytes.count - length) bytes past its commit point were never acknowledged; they are not replayed")
        }
        return Array(bytes.prefix(length))
    }

    /// Events of erased visitors are left out: the seal that covers their log then deletes them from disk.
    private func replay(path: String, bytes: [UInt8], erased: ErasureSet, replayed: inout Set<UInt64>) {
        var reader = LogReader(bytes: bytes, path: path)
        let now = monotonicMilliseconds()
        let arrival = wallClockSeconds()
        var duplicates = 0
        var kept: [UInt8] = []
        while let record = reader.next() {
            guard record.count >= 5, record[0] == 1 else {
                report("corruption: \(path): a record of unknown kind; the rest of this log is skipped")
                return
            }
            record.withUnsafeBytes { raw in
                let body = UnsafeRawBufferPointer(rebasing: raw[5...])
                guard EventRecordView.forEach(in: body, { _ in }) else {
                    report("corruption: \(path): a record holds malformed events; it is skipped")
                    return
                }
                kept.removeAll(keepingCapacity: true)
                var count = 0
                _ = EventRecordView.forEach(in: body) { view in
                    if erased.contains(site: view.site, visitor: view.visitorID) { return }
                    if !view.eventID.isEmpty {
                        let hash = DedupWindow.hash(view.eventID)
                        guard replayed.insert(hash).inserted else {
                            duplicates += 1
                            return
                        }
                        dedup.insert(hash, arrival: arrival)
                    }
                    kept.append(contentsOf: view.bytes)
                    count += 1
                }
                kept.withUnsafeBytes { memtable.append($0, count: count, now: now) }
            }
        }
        if duplicates > 0 {
            report("\(path): \(duplicates) events already stored were not replayed again")
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
}
