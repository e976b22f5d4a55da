/// A fixed block of memory for memtable records; never moves, so readers may hold it while the writer appends.
final class MemtableChunk: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    /// Bytes written; touched by the shard's writer only. Readers use the length published in a snapshot.
    var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }
}

/// Events a shard holds in memory after their WAL write and before they are sealed into a segment.
struct Memtable {
    static let chunkSize = 1 << 20

    private(set) var chunks: [MemtableChunk] = []
    private(set) var count = 0
    private(set) var bytes = 0
    /// Monotonic milliseconds when the first event arrived; 0 when empty.
    private(set) var firstArrival: Int64 = 0

    var isEmpty: Bool { count == 0 }

    /// Appends back-to-back records; one call's records stay in one chunk.
    mutating func append(_ records: UnsafeRawBufferPointer, count: Int, now: Int64) {
        guard !records.isEmpty else { return }
        if self.count == 0 { firstArrival = now }
        if chunks.isEmpty || chunks[chunks.count - 1].capacity - chunks[chunks.count - 1].used < records.count {
            chunks.append(MemtableChunk(capacity: Swift.max(Self.chunkSize, records.count)))
        }
        let chunk = chunks[chunks.count - 1]
        // The chunk has room for `records` past `used` (checked above); readers only read below published lengths.
        (chunk.base + chunk.used).copyMemory(from: records.baseAddress!, byteCount: records.count)
        chunk.used += records.count
        self.count += count
        bytes += records.count
    }

    /// What a reader may see now: the chunks and how much of each is written.
    var snapshot: MemtableSnapshot {
        MemtableSnapshot(chunks: chunks.map { ($0, $0.used) }, count: count)
    }
}

/// An immutable view of a memtable at one moment.
public struct MemtableSnapshot: Sendable {
    let chunks: [(MemtableChunk, Int)]
    public let count: Int

    static let empty = MemtableSnapshot(chunks: [], count: 0)

    /// Calls `body` with the records of each chunk, back to back in `EventRecord` layout.
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        for (chunk, used) in chunks { try body(UnsafeRawBufferPointer(start: chunk.base, count: used)) }
    }

    /// All records in one contiguous buffer (for sealing).
    func contiguous() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(chunks.reduce(0) { $0 + $1.1 })
        forEachChunk { out.append(contentsOf: $0) }
        return out
    }
}
