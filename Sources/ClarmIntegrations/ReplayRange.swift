import ClarmEvents
import ClarmJSON
import ClarmStorage
import ClarmSystem

/// An event of a replayed range with its `webhook-id` key: its hash and its rank among identical events.
struct ReplayEvent: Sendable {
    let event: EventRecord
    let hash: String
    let occurrence: Int

    var key: String { WebhookSignature.eventKey(hash: hash, occurrence: occurrence) }
}

/// A replay of a time range (`POST /api/destinations/{id}/replay` with `from` and `to`, README "Integrations"):
/// the destination's matching events stored in `[from, to)`, read from segments and memtables.
struct ReplayRange {
    /// At most this long a range (31 days), and at most `maxEvents` matching events, `maxBytes` of them as
    /// stored, in it: a wider replay is refused, to be split. The events wait in memory until sent.
    static let maxMilliseconds: Int64 = 31 * 86_400_000
    static let maxEvents = 10_000
    static let maxBytes = 16 << 20
    /// Segment blocks decoded at once.
    static let blocksPerRead = 8

    let from: Int64
    let to: Int64

    init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }

    /// `{"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}` (RFC 3339).
    init(_ body: JSONValue) throws(IntegrationError) {
        func time(_ key: String) throws(IntegrationError) -> Int64 {
            guard let text = body[key]?.string,
                  let value = Array(text.utf8).withUnsafeBytes({ Timestamp.parse($0) }) else {
                throw .invalid("\(key) must be an RFC 3339 time, like 2026-12-01T00:00:00Z")
            }
            return value
        }
        from = try time("from")
        to = try time("to")
        guard from < to else { throw .invalid("from must be before to") }
        guard to - from <= Self.maxMilliseconds else { throw .invalid("a replay covers at most 31 days: split the range") }
    }

    /// The stored events `matches` takes in the range, ordered by timestamp then key hash then rank among identical
    /// ones (the same order however the store holds them), erased visitors' left out, only those after
    /// `progress`'s last one; throws when the range holds more than `maxEvents`.
    /// `deadline` (monotonic milliseconds): the scan gives up past it, asked between block runs and memtable chunks.
    func events(in store: Store, after progress: ReplayProgress? = nil, deadline: Int64 = .max,
                matching matches: (EventRecord) -> Bool) throws(IntegrationError) -> [ReplayEvent] {
        var found: [EventRecord] = []
        var bytes = 0
        var full = false
        var late = monotonicMilliseconds() >= deadline
        func take(_ records: UnsafeRawBufferPointer, _ erased: ErasureSet) {
            _ = EventRecordView.forEach(in: records) { view in
                guard !full, view.timestamp >= from, view.timestamp < to, !erased.contains(site: view.site, visitor: view.visitorID) else { return }
                let record = view.record
                guard matches(record) else { return }
                bytes += view.length
                if found.count == Self.maxEvents || bytes > Self.maxBytes { full = true } else { found.append(record) }
            }
            if monotonicMilliseconds() >= deadline { late = true }
        }
        for shard in store.snapshot() where !full && !late {
            for segment in shard.segments where !full && !late && segment.maxTimestamp >= from && segment.minTimestamp < to {
                let overlapping = segment.zones.indices.filter { segment.zones[$0].max >= from && segment.zones[$0].min < to }
                for run in Self.runs(overlapping) where !full && !late {
                    var bytes: [UInt8] = []
                    do throws(SegmentCorruption) {
                        try segment.appendRecords(to: &bytes, blocks: run)
                    } catch {
                        throw .refused("cannot read \(error)")
                    }
                    bytes.withUnsafeBytes { take($0, shard.erased) }
                }
            }
            for memtable in shard.memtables where !full && !late {
                memtable.forEachChunk { take($0, shard.erased) }
            }
        }
        guard !full else {
            throw .invalid("more than \(Self.maxEvents) matching events, or \(Self.maxBytes >> 20) MiB of them, in the range: split it")
        }
        guard !late else { throw .refused("reading the range took longer than the query timeout: split it") }
        // Identical events sort next to each other and are ranked in that run, as `WebhookSignature.eventKeys`
        // ranks them in the feed: the whole range is ranked before `progress` cuts what was sent.
        let sorted = found.map { (event: $0, hash: WebhookSignature.eventKey($0)) }
            .sorted { ($0.event.timestamp, $0.hash) < ($1.event.timestamp, $1.hash) }
        var ranked: [ReplayEvent] = []
        ranked.reserveCapacity(sorted.count)
        for (event, hash) in sorted {
            let previous = ranked.last
            let occurrence = previous.map { $0.event.timestamp == event.timestamp && $0.hash == hash ? $0.occurrence + 1 : 0 } ?? 0
            ranked.append(ReplayEvent(event: event, hash: hash, occurrence: occurrence))
        }
        guard let progress else { return ranked }
        return ranked.filter { progress.isAhead($0) }
    }

    /// Consecutive block numbers grouped into ranges of at most `blocksPerRead`.
    static func runs(_ blocks: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        for block in blocks {
            if let last = runs.last, last.upperBound == block, last.count < blocksPerRead {
                runs[runs.count - 1] = last.lowerBound..<(block + 1)
            } else {
                runs.append(block..<(block + 1))
            }
        }
        return runs
    }
}
