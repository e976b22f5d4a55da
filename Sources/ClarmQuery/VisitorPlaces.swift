import ClarmEvents
import ClarmStorage

/// Which visitors of one shard's scan have rows in more than one place, a place being one segment or all the
/// memtables together. Only their rows need gathering and sorting across places; every other visitor's rows
/// lie together in one segment, already in time order, and are aggregated as that segment is read.
///
/// Visitors are told apart by a 64-bit hash of their id, taken once per segment dictionary entry and once per
/// buffered event, never per segment row. A collision only makes two visitors look shared, which costs time,
/// never exactness.
struct VisitorPlaces {
    /// Per segment (in the order given), per visitor id of its dictionary: whether the visitor has rows in no
    /// other place.
    private(set) var local: [[Bool]] = []
    /// The earliest and latest instants of the places' events of the site (segments by their zone maps).
    private(set) var earliest = Int64.max, latest = Int64.min

    /// Without `findingLocal` every visitor counts as shared (and no dictionary is read): only the span is found.
    init(_ shard: ShardSnapshot, segments: [Segment], site: [UInt8], findingLocal: Bool = true) throws(SegmentCorruption) {
        var hashes: [[UInt64]] = []
        var entries = 0
        for segment in segments {
            earliest = min(earliest, segment.minTimestamp)
            latest = max(latest, segment.maxTimestamp)
            guard findingLocal else {
                hashes.append([])
                continue
            }
            let dictionary = try segment.dictionary(.visitor_id)
            var ofSegment: [UInt64] = []
            ofSegment.reserveCapacity(dictionary.count)
            dictionary.bytes.withUnsafeBytes { bytes in
                for id in 0..<dictionary.count {
                    ofSegment.append(Self.hash(UnsafeRawBufferPointer(rebasing: bytes[dictionary.offsets[id]..<dictionary.offsets[id + 1]])))
                }
            }
            entries += ofSegment.count
            hashes.append(ofSegment)
        }
        var buffered = Set<UInt64>()
        for memtable in shard.memtables {
            memtable.forEachChunk { chunk in
                EventRecordView.forEach(in: chunk) { view in
                    guard view.site.elementsEqual(site) else { return }
                    if findingLocal { buffered.insert(Self.hash(view.visitorID)) }
                    earliest = min(earliest, view.timestamp)
                    latest = max(latest, view.timestamp)
                }
            }
        }
        // A place lists each of its visitors once, so a hash met twice is a visitor of two places.
        var places = PlaceCounts(capacity: entries + buffered.count)
        for ofSegment in hashes {
            for hash in ofSegment { places.meet(hash) }
        }
        for hash in buffered { places.meet(hash) }
        local = hashes.map { $0.map { places.metOnce($0) } }
    }

    /// Swift's `Hasher`: keyed at random per process, so ids that collide cannot be crafted from outside.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }
}

/// How many places each visitor hash was met in (once, or more), in an open-addressing table indexed by the
/// hash's own low bits: the hashes are already keyed and uniform, so hashing them again (as `Dictionary` would,
/// three times per visitor: to read, to write, to look up) costs time and buys nothing.
private struct PlaceCounts {
    /// 0 marks an empty slot; a hash of 0 is stored as 1 (a collision only makes two visitors look shared).
    private var keys: [UInt64]
    private var twice: [Bool]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        twice = Array(repeating: false, count: size)
        mask = size - 1
    }

    private func slot(_ key: UInt64) -> Int {
        var slot = Int(truncatingIfNeeded: key) & mask
        while keys[slot] != 0 && keys[slot] != key { slot = (slot + 1) & mask }
        return slot
    }

    mutating func meet(_ hash: UInt64) {
        let key = max(hash, 1)
        let slot = slot(key)
        if keys[slot] == key { twice[slot] = true } else { keys[slot] = key }
    }

    /// Whether `hash` was met in exactly one place (false for one never met).
    func metOnce(_ hash: UInt64) -> Bool {
        let key = max(hash, 1)
        let slot = slot(key)
        return keys[slot] == key && !twice[slot]
    }
}
