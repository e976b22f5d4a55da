import ClarmBots
import ClarmEvents
import ClarmStorage

/// The accepted records of one decoded batch split by the shard that holds each visitor, crawlers' events
/// and the ones a site check refused left out: what `POST /api/track` and `clarm import` both store.
/// Its buffers are reused from batch to batch.
struct ShardBatches {
    private(set) var records: [[UInt8]] = []
    private(set) var counts: [Int] = []

    /// Adds `batch`'s records to their shards' parts; `keeps(ordinal)` says whether the record at that
    /// position among the accepted ones passed the site checks. Returns the crawlers' events dropped.
    mutating func split(_ batch: TrackBatch, store: Store, keeps: (Int) -> Bool, crawlers: inout CrawlerFilter?) -> Int {
        if records.count != store.shardCount {
            records = Array(repeating: [], count: store.shardCount)
            counts = Array(repeating: 0, count: store.shardCount)
        }
        var ordinal = 0, bots = 0
        _ = batch.records.withUnsafeBytes { bytes in
            EventRecordView.forEach(in: bytes) { view in
                defer { ordinal += 1 }
                guard keeps(ordinal) else { return }
                if crawlers?.isCrawler(view.userAgent) == true {
                    bots += 1
                    return
                }
                let shard = store.shard(forVisitor: view.visitorID)
                records[shard].append(contentsOf: view.bytes)
                counts[shard] += 1
            }
        }
        return bots
    }

    /// Shards with records waiting.
    var shardsUsed: Int { counts.count { $0 > 0 } }

    /// Bytes waiting, all shards together.
    var bytes: Int { records.reduce(0) { $0 + $1.count } }

    /// Empties `shard`'s part, keeping its buffer.
    mutating func clear(_ shard: Int) {
        records[shard].removeAll(keepingCapacity: true)
        counts[shard] = 0
    }
}
