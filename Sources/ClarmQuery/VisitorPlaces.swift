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
        /// Per hash: whether it was met in more than one place.
        var shared: [UInt64: Bool] = [:]
        func meet(_ hash: UInt64) { shared[hash] = shared[hash] != nil }
        var hashes: [[UInt64]] = []
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
                    let hash = Self.hash(UnsafeRawBufferPointer(rebasing: bytes[dictionary.offsets[id]..<dictionary.offsets[id + 1]]))
                    ofSegment.append(hash)
                    meet(hash)
                }
            }
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
        for hash in buffered { meet(hash) }
        local = hashes.map { $0.map { shared[$0] == false } }
    }

    /// Swift's `Hasher`: keyed at random per process, so ids that collide cannot be crafted from outside.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt64(UInt(bitPattern: hasher.finalize()))
    }
}
