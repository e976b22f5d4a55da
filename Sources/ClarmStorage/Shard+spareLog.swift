/// Where a shard's spare log stands. Only `Shard.spareLog` holds one.
enum SpareLog: Equatable {
    case none, preparing
    case ready(size: Int)
}

/// Spare logs: a log starts as a zero-filled file written and fdatasynced ahead of time on the sealer, so
/// that a commit overwrites allocated blocks and its fdatasync flushes data only. A log that grows by
/// appends makes every fdatasync also journal the new file size (and, with fallocate, the extents written);
/// on ext4 that costs several times the data write. Readers already end a log at a zero-filled tail.
///
/// A log that fills its spare (or 1 MiB, when it began empty) continues in the next spare once one is ready,
/// as after a failed write: the seal that covers the newest log covers the earlier ones too. Each spare is
/// twice the last log, from 1 MiB up to `StoreOptions.logPreallocation`, so an idle shard writes few zeros.
extension Shard {
    /// Named `.tmp` so recovery deletes a spare a crash left behind, and so nothing takes it for a log.
    static let spareLogName = "spare-log.tmp"
    static let minimumSpareLog = 1 << 20

    /// On the writer: a new log file at `logPath`, the spare when one is ready, else an empty file; sets
    /// `logCapacity` to the zero-filled bytes it starts with.
    func createLogFile(_ logPath: String) throws(StorageIOError) -> AppendableFile {
        let ready = spareLog.withLock { spare -> Int? in
            guard case .ready(let size) = spare else { return nil }
            spare = .none
            return size
        }
        logCapacity = 0
        if let ready {
            do throws(StorageIOError) {
                let file = try fs.adopt(path(Self.spareLogName), as: logPath)
                logCapacity = ready
                return file
            } catch {
                report("shard \(index): cannot use the spare log: \(error); starting an empty one")
                try? fs.remove(path(Self.spareLogName))
            }
        }
        return try fs.create(logPath)
    }

    /// On the writer, after a commit: once the log has outgrown its zero-filled start and a spare is ready,
    /// the next group goes to the spare. A log that began empty moves on after 1 MiB, so a shard that takes
    /// few events keeps one log between seals.
    func moveToSpareLogWhenFull() {
        guard let log, log.file.size >= max(logCapacity, Self.minimumSpareLog),
              case .ready = spareLog.withLock({ $0 }) else { return }
        lastLogSize = log.file.size
        log.close()
        self.log = nil
        // On failure `log` stays nil and the next commit opens one (or answers 503), as after a failed write.
        try? openNewLog()
    }

    /// On the writer, after a log was opened: has the sealer make the next spare, unless one is on its way.
    func prepareSpareLog() {
        // A closing shard opens one more log only to leave it empty.
        guard options.logPreallocation > 0, !incoming.withLock({ $0.closed }) else { return }
        let size = min(options.logPreallocation, max(Self.minimumSpareLog, 2 * lastLogSize))
        let start = spareLog.withLock { spare in
            defer { if spare == .none { spare = .preparing } }
            return spare == .none
        }
        guard start else { return }
        sealer.async {
            guard !self.stopped.load(ordering: .relaxed) else {
                self.spareLog.withLock { $0 = .none }
                return
            }
            let spare = self.path(Self.spareLogName)
            do throws(StorageIOError) {
                try self.fs.createZeroFilled(spare, size: size)
                self.spareLog.withLock { $0 = .ready(size: size) }
            } catch {
                // Not a problem for ingest: the log then grows as it is written.
                self.report("shard \(self.index): cannot prepare a spare log: \(error)")
                try? self.fs.remove(spare)
                self.spareLog.withLock { $0 = .none }
            }
        }
    }

    /// On closing, once the sealer is idle: the spare is not needed until the next start makes its own.
    func removeSpareLog() {
        spareLog.withLock { $0 = .none }
        if fs.exists(path(Self.spareLogName)) { try? fs.remove(path(Self.spareLogName)) }
    }
}
