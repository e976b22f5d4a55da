import Glibc

/// Erasure of a visitor (GDPR Art. 17): a durable tombstone, recorded before the answer, that hides the
/// visitor's events from every snapshot at once; the purge of the files follows (docs/FORMAT.md, "Erasures").
extension Shard {
    /// Reads `erasures` at opening, before the logs are replayed. A damaged file stops the shard from opening:
    /// skipping it would bring erased visitors back.
    func loadErasures() throws(StorageIOError) -> ErasureSet {
        let file = path(ErasureSet.fileName)
        guard fs.exists(file) else { return ErasureSet() }
        guard let erased = ErasureSet.decode(try fs.readAll(file)) else {
            throw StorageIOError("decode", file, errno: EINVAL)
        }
        return erased
    }

    /// Records `tombstone` durably (the whole file rewritten, fsynced, renamed, directory fsynced), then
    /// publishes it to readers. Idempotent. Fails when the shard holds `maxPendingErasures` tombstones.
    func erase(_ tombstone: ErasureSet.Tombstone) throws(StoreError) {
        try erasureFile.withLock { _ throws(StoreError) in
            var erased = view.withLock { $0.erased }
            if erased.contains(tombstone) { return }
            guard erased.count < options.maxPendingErasures else {
                throw StoreError("shard \(index) holds \(erased.count) erasures not yet purged from its files, "
                                 + "the most it keeps (\(options.maxPendingErasures)); retry once they are purged", retryAfter: 10)
            }
            erased.insert(tombstone)
            try saveErasures(erased)
            view.withLock { $0.erased = erased }
        }
        requestPurge()
    }

    /// Rewrites `erasures` to hold `erased`; deletes it when that is empty, so it names no visitor once the
    /// last purge is done. Called under `erasureFile`.
    func saveErasures(_ erased: ErasureSet) throws(StoreError) {
        let file = path(ErasureSet.fileName)
        do throws(StorageIOError) {
            if erased.isEmpty {
                if fs.exists(file) { try fs.remove(file) }
                try fs.syncDirectory(directory)
            } else {
                try fs.publish(erased.encode(), as: file, in: directory)
            }
        } catch {
            try? fs.remove(file + ".tmp")
            throw StoreError("cannot record the erasure: \(error)", retryAfter: 5)
        }
    }
}
