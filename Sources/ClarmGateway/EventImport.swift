import ClarmBots
import ClarmEvents
import ClarmStorage
import ClarmSystem
import Dispatch
import Glibc
import Synchronization

/// `clarm import`: NDJSON events, one event object a line, stored as `POST /api/track` stores them — the same
/// decoder and field rules, the registered sites' check, crawlers dropped, the same shards and deduplication —
/// but written straight to the store instead of through HTTP, so large stores are built in minutes.
///
/// Lines are decoded `TrackDecoder.maxBatch` (or 1 MiB) at a time; the split records are appended when they reach
/// `flushBytes`, and the next part is decoded while the store writes the last, so at most two parts wait.
/// A line is an event only up to `maxLineBytes` (the track route's body limit); a longer one is rejected.
public struct EventImport {
    public struct Counts: Sendable, Equatable {
        public var lines = 0
        public var accepted = 0
        public var duplicates = 0
        public var bots = 0
        public var rejected = 0
    }

    /// The longest line taken as an event: what one `POST /api/track` body may hold.
    public static let maxLineBytes = 1 << 20
    /// Times a store that cannot take events now (its memory limit reached while seals catch up) is waited for
    /// before the import fails.
    static let maxAttempts = 120
    let flushBytes: Int

    private let store: Store
    private let sites: SiteSnapshot
    private var decoder: TrackDecoder
    private var crawlers: CrawlerFilter?
    private var batch = TrackBatch()
    private var kept: [Bool] = []
    /// The lines of the batch being gathered, as one JSON array, and the line number of each.
    private var body: [UInt8] = []
    private var bodyLines: [Int] = []
    private var bodyRanges: [Range<Int>] = []
    private var filling = ShardBatches()
    private var inFlight: (batches: ShardBatches, pending: PendingAppends)?
    public private(set) var counts = Counts()
    private let report: (String) -> Void

    /// `sites` empty accepts every site; `report` receives each rejected line with its reason.
    public init(store: Store, sites: SiteSnapshot, maxEventAgeDays: Int, keepBots: Bool, flushBytes: Int = 8 << 20,
                report: @escaping (String) -> Void) {
        self.store = store
        self.sites = sites
        self.decoder = TrackDecoder(maxEventAgeDays: maxEventAgeDays)
        self.crawlers = keepBots ? nil : CrawlerFilter(CrawlerMatcher.shared)
        self.flushBytes = flushBytes
        self.report = report
        body.reserveCapacity(1 << 20)
    }

    /// Takes the next line (without its newline); `truncated` says it was longer than `maxLineBytes` and
    /// only its start is given. Blank lines are skipped.
    public mutating func add(line: UnsafeRawBufferPointer, truncated: Bool = false) throws(StoreError) {
        counts.lines += 1
        if truncated {
            reject(counts.lines, "line longer than \(Self.maxLineBytes) bytes")
            return
        }
        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
        body.append(bodyLines.isEmpty ? UInt8(ascii: "[") : UInt8(ascii: ","))
        body.append(contentsOf: line)
        bodyLines.append(counts.lines)
        bodyRanges.append(body.count - line.count..<body.count)
        // A batch is decoded at the route's event count or body size, whichever comes first: at most about 2 MiB.
        if bodyLines.count == TrackDecoder.maxBatch || body.count >= Self.maxLineBytes { try decodeBody() }
    }

    /// Stores what is left and waits until every event is in the store's log; the counts are then final.
    public mutating func finish() throws(StoreError) -> Counts {
        try decodeBody()
        try send()
        try settle()
        return counts
    }

    private mutating func decodeBody() throws(StoreError) {
        guard !bodyLines.isEmpty else { return }
        body.append(UInt8(ascii: "]"))
        defer {
            body.removeAll(keepingCapacity: true)
            bodyLines.removeAll(keepingCapacity: true)
            bodyRanges.removeAll(keepingCapacity: true)
        }
        if decode(body) && elements == bodyLines.count {
            try take(lineNumbers: bodyLines)
            return
        }
        // A line that is not JSON spoils the array, and one holding several values (`{…},{…}`) shifts every later
        // element off its line: each line, alone in an array, finds which.
        var single: [UInt8] = []
        for (line, range) in zip(bodyLines, bodyRanges) {
            single.removeAll(keepingCapacity: true)
            single.append(UInt8(ascii: "["))
            single.append(contentsOf: body[range])
            single.append(UInt8(ascii: "]"))
            if !decode(single) {
                reject(line, "not JSON")
            } else if elements != 1 {
                reject(line, "a line holds one event object, not \(elements) values")
            } else {
                try take(lineNumbers: [line])
            }
        }
    }

    /// The values of the array `batch` was decoded from: events kept and events rejected.
    private var elements: Int { batch.acceptedCount + batch.rejections.count }

    /// Decodes `bytes`, a JSON array of events, into `batch`; false when it is not JSON.
    private mutating func decode(_ bytes: [UInt8]) -> Bool {
        let context = TrackRequestContext(receivedAt: wallClockMilliseconds(), userAgent: UnsafeRawBufferPointer(start: nil, count: 0),
                                          keptParameters: sites)
        return bytes.withUnsafeBytes { raw in
            do {
                try decoder.decode(raw, context: context, into: &batch)
                return true
            } catch {
                return false
            }
        }
    }

    /// Checks and splits the decoded batch, whose elements were the lines `lineNumbers`.
    private mutating func take(lineNumbers: [Int]) throws(StoreError) {
        for rejection in batch.rejections {
            reject(lineNumbers[rejection.index], rejection.reason.description)
        }
        kept.removeAll(keepingCapacity: true)
        if !sites.isEmpty {
            var index = 0, nextRejection = 0
            _ = batch.records.withUnsafeBytes { records in
                EventRecordView.forEach(in: records) { view in
                    while nextRejection < batch.rejections.count && batch.rejections[nextRejection].index == index {
                        nextRejection += 1
                        index += 1
                    }
                    defer { index += 1 }
                    let known = sites.find(view.site) != nil
                    if !known { reject(lineNumbers[index], "unknown site") }
                    kept.append(known)
                }
            }
        }
        let passed = kept
        counts.bots += filling.split(batch, store: store, keeps: { passed.isEmpty || passed[$0] }, crawlers: &crawlers)
        if filling.bytes >= flushBytes { try send() }
    }

    private mutating func reject(_ line: Int, _ reason: String) {
        counts.rejected += 1
        report("line \(line): \(reason)")
    }

    /// Appends the part gathered so far, once the part sent before it is stored.
    private mutating func send() throws(StoreError) {
        try settle()
        guard filling.shardsUsed > 0 else { return }
        let pending = PendingAppends(shards: store.shardCount)
        for shard in 0..<store.shardCount where filling.counts[shard] > 0 {
            pending.append(filling.records[shard], count: filling.counts[shard], shard: shard, to: store)
        }
        var sent = ShardBatches()
        swap(&sent, &filling)
        inFlight = (sent, pending)
    }

    /// Waits for the part in flight; a shard that could not take it now is given it again after the
    /// store's `retryAfter`, up to `maxAttempts` times.
    private mutating func settle() throws(StoreError) {
        guard let (batches, sent) = inFlight else { return }
        var pending = sent
        inFlight = nil
        var attempts = 1
        while true {
            let outcomes = pending.wait()
            var failed: [(shard: Int, error: StoreError)] = []
            for (shard, outcome) in outcomes.enumerated() {
                switch outcome {
                case .stored(let accepted, let duplicates):
                    counts.accepted += accepted
                    counts.duplicates += duplicates
                case .failed(let error):
                    failed.append((shard, error))
                case nil:
                    continue
                }
            }
            guard let first = failed.first else { break }
            guard attempts < Self.maxAttempts else { throw first.error }
            attempts += 1
            sleep(UInt32(max(1, first.error.retryAfter)))
            pending = PendingAppends(shards: store.shardCount)
            for (shard, _) in failed {
                pending.append(batches.records[shard], count: batches.counts[shard], shard: shard, to: store)
            }
        }
    }
}

/// The outcomes of one part's appends, one per shard, and a wait for all of them.
final class PendingAppends: Sendable {
    private let outcomes: Mutex<[AppendOutcome?]>
    private let done = DispatchSemaphore(value: 0)
    private let sent = Atomic<Int>(0)

    init(shards: Int) {
        outcomes = Mutex(Array(repeating: nil, count: shards))
    }

    func append(_ records: [UInt8], count: Int, shard: Int, to store: Store) {
        sent.add(1, ordering: .relaxed)
        store.append(shard: shard, records: records, count: count) { [self] outcome in
            outcomes.withLock { $0[shard] = outcome }
            done.signal()
        }
    }

    /// Every sent append's outcome, by shard (nil: nothing was sent to it).
    func wait() -> [AppendOutcome?] {
        for _ in 0..<sent.load(ordering: .relaxed) { done.wait() }
        return outcomes.withLock { $0 }
    }
}
