/// What storage reports about its own work, for `/metrics`: the store owns one and records into it as it goes
/// (group commits, seals, compactions, the deduplication window).
public final class StorageMetrics: Sendable {
    /// Seconds each WAL fsync (`fdatasync`) took.
    public let fsyncSeconds = Histogram("clarm_wal_fsync_seconds", help: "Time of each WAL fsync.",
                                        bounds: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
    /// Appends (requests' parts) written by one group commit, recorded as `observe(Double(count))`.
    public let groupSize = Histogram("clarm_wal_group_size", help: "Appends written together by one group commit.",
                                     bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256])
    /// Seconds to seal a memtable into a segment.
    public let sealSeconds = Histogram("clarm_seal_seconds", help: "Time to seal a memtable into a segment.",
                                       bounds: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
    /// Seconds of each segment compaction.
    public let compactionSeconds = Histogram("clarm_compaction_seconds", help: "Time of each segment compaction.",
                                             bounds: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120])
    /// Per shard: seconds between the oldest and newest event id the deduplication window remembers.
    public let dedupWindowSeconds: Gauge
    /// Segments written again without the events of erased visitors (or deleted, when nothing else was left).
    public let erasureSegmentsRewritten = Counter("clarm_erasure_segments_rewritten_total",
                                                  help: "Segments rewritten to purge erased visitors' events.")
    /// Events of erased visitors left out of seals and segment rewrites.
    public let erasureEventsPurged = Counter("clarm_erasure_events_purged_total",
                                             help: "Events of erased visitors removed from the data files.")

    public init(shards: Int) {
        dedupWindowSeconds = Gauge("clarm_dedup_window_seconds", help: "Span of arrival times the deduplication window covers.",
                                   label: "shard", values: (0..<shards).map(String.init))
    }

    public var histograms: [Histogram] { [fsyncSeconds, groupSize, sealSeconds, compactionSeconds] }
    public var counters: [Counter] { [erasureSegmentsRewritten, erasureEventsPurged] }
}
