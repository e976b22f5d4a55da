import Glibc

/// When an append counts as stored.
public enum Durability: String, Sendable, CaseIterable {
    /// Acknowledged after the WAL records are written and fsynced (fdatasync): they survive power loss.
    case fsync
    /// Acknowledged after write(2) only: they survive a crash of Clarm but not of the machine.
    case os
}

public struct StoreOptions: Sendable {
    /// Shards of a new store; an existing store keeps the count in its manifest.
    public var shards: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    public var durability = Durability.fsync
    /// A shard seals its buffered events into a segment once it holds this many…
    public var sealEvents = 250_000
    /// …or once its oldest buffered event waited this many milliseconds…
    public var sealInterval: Int64 = 60_000
    /// …or once its buffered events take this many bytes.
    public var sealBytes = 64 << 20
    /// Bytes of buffered events (active and sealing memtables) of all shards together; appends beyond fail.
    public var memoryLimit = 1 << 30
    /// Compaction merges a shard's segments smaller than `compactionRows` once it has `compactionFanIn` of them,
    /// into segments of up to `compactionRows` rows.
    public var compactionFanIn = 4
    public var compactionRows = 1_000_000
    /// Seconds an event id is remembered for deduplication…
    public var dedupWindow: Int64 = 3_600
    /// …but at most this many ids per shard (about 28 bytes each).
    public var dedupMaxIDs = 2_000_000
    /// Segments whose newest event is older than this many days are deleted; nil keeps everything.
    public var retentionDays: Int? = nil
    /// Erased visitors a shard keeps as tombstones until its files no longer hold them; erasures beyond fail.
    public var maxPendingErasures = 100_000
    /// Purges of erased visitors wait for `Store.pausePurges(false)` (tests look at the files before them).
    var purgesPaused = false
    /// Bytes of sealed logs a shard keeps for change-feed consumers that have not read them; past it the oldest
    /// are deleted anyway and the consumers' loss is counted (`ChangeFeed`).
    public var feedRetentionBytes = 4 << 30
    /// A shard's next log is zero-filled ahead of time, as large as its last log was (with an eighth more),
    /// between 1 MiB and this many bytes; 0 turns this off (logs then grow as they are written).
    public var logPreallocation = 64 << 20
    /// Runs the completions of one commit round (all its appends, in order, on the shard's writer): a caller
    /// can gather what they hand on and pass it along once per round (the server's `ResumptionBatch.collect`).
    /// `completeAll` does not escape: it runs before this returns, while the shard's per-commit scratch is valid.
    public var completionRound: @Sendable (_ completeAll: () -> Void) -> Void = { $0() }

    public init() {}
}
