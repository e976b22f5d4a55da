import ClarmEvents

/// Why a segment could not be built: an input no segment can hold within the format's bounds.
public struct SegmentWriteError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Builds a segment file image from event records (docs/FORMAT.md, "Segments").
public struct SegmentWriter {
    public struct Summary: Sendable {
        public var rows: Int
        public var minTimestamp: Int64
        public var maxTimestamp: Int64
    }

    /// Encodes `records` (back to back, `EventRecord` layout) grouped by visitor, each visitor's rows by
    /// (timestamp, arrival).
    /// `replaces` lists the segments a compaction merged into this one; recovery removes any still present.
    /// Throws, and never traps, when the records cannot be held within the format's bounds (more rows than
    /// `SegmentFormat.maxRows`, or a single value too large for a `SegmentFormat.maxBlockBytes` block).
    /// `blockLimit` exists for tests, which exercise dictionaries spanning blocks without writing 16 MiB blocks.
    public static func build(records: UnsafeRawBufferPointer, walCovered: UInt64, replaces: [UInt64] = [],
                             blockLimit: Int = SegmentFormat.maxBlockBytes) throws(SegmentWriteError) -> (image: [UInt8], summary: Summary) {
        var views: [EventRecordView] = []
        EventRecordView.forEach(in: records) { views.append($0) }
        guard views.count <= SegmentFormat.maxRows else {
            throw SegmentWriteError(description: "\(views.count) rows exceed a segment's \(SegmentFormat.maxRows)")
        }
        // Group rows by visitor (visitors in order of first arrival) and order each visitor's rows by time:
        // integer keys make the sort cheap, and queries only need a visitor's rows together and in order.
        var visitorKeys = ByteInterner()
        let visitorOf = views.map { visitorKeys.id(for: $0.visitorID) }
        let order = views.indices.sorted { a, b in
            if visitorOf[a] != visitorOf[b] { return visitorOf[a] < visitorOf[b] }
            if views[a].timestamp != views[b].timestamp { return views[a].timestamp < views[b].timestamp }
            return a < b
        }
        let rows = order.count

        // Column values per row, in sorted order.
        let columns = SegmentFormat.Column.allCases
        var dictionaries = [ByteInterner](repeating: ByteInterner(), count: columns.count)
        var ids = [[UInt32]](repeating: [UInt32](repeating: 0, count: rows), count: columns.count)
        var timestamps = [Int64](repeating: 0, count: rows)
        var reader = PropertyReader()
        for (row, index) in order.enumerated() {
            let view = views[index]
            timestamps[row] = view.timestamp
            let url = view.url
            let parts = URLParts(url)
            // Extracted property texts by column index; a repeated key keeps its last value.
            var propertyTexts = [[UInt8]?](repeating: nil, count: columns.count)
            reader.forEachMember(view.properties) { key, text in
                if let column = SegmentFormat.Column.propertyColumns.first(where: { $0.propertyKey!.withUTF8Buffer { $0.elementsEqual(key) } }) {
                    propertyTexts[column.index] = Array(text)
                }
            }
            for (c, column) in columns.enumerated() {
                let value: UnsafeRawBufferPointer
                switch column {
                case .timestamp: continue
                case .visitor_id: value = view.visitorID
                case .session_id: value = view.sessionID
                case .event: value = view.event
                case .site: value = view.site
                case .origin: value = UnsafeRawBufferPointer(rebasing: url[parts.origin])
                case .path: value = UnsafeRawBufferPointer(rebasing: url[parts.path])
                case .rest: value = UnsafeRawBufferPointer(rebasing: url[parts.rest])
                case .referrer: value = view.referrer
                case .user_agent: value = view.userAgent
                case .properties: value = view.properties
                case .country: value = view.country
                case .region: value = view.region
                case .city: value = view.city
                default:
                    ids[c][row] = (propertyTexts[c] ?? []).withUnsafeBytes { dictionaries[c].id(for: $0) }
                    continue
                }
                ids[c][row] = dictionaries[c].id(for: value)
            }
        }

        var out = SegmentFormat.headerMagic
        append(SegmentFormat.version, to: &out)
        var footer: [UInt8] = []
        append(UInt32(columns.count), to: &footer)
        let blockCount = (rows + SegmentFormat.rowsPerBlock - 1) / SegmentFormat.rowsPerBlock
        var raw: [UInt8] = []
        for (c, column) in columns.enumerated() {
            let name = Array(column.rawValue.utf8)
            append(UInt16(name.count), to: &footer)
            footer.append(contentsOf: name)
            footer.append(column.encoding.rawValue)
            let width = column.encoding == .dictionary ? dictionaries[c].idWidth : 0
            footer.append(UInt8(width))
            if column.encoding == .dictionary {
                try writeDictionary(dictionaries[c], column: column, limit: min(blockLimit, SegmentFormat.maxBlockBytes),
                                    to: &out, footer: &footer)
            }
            append(UInt32(blockCount), to: &footer)
            for block in 0..<blockCount {
                let range = (block * SegmentFormat.rowsPerBlock)..<min(rows, (block + 1) * SegmentFormat.rowsPerBlock)
                raw.removeAll(keepingCapacity: true)
                if column.encoding == .delta {
                    var previous: Int64 = 0
                    for row in range {
                        Varint.appendZigZag(timestamps[row] &- previous, to: &raw)
                        previous = timestamps[row]
                    }
                } else {
                    for row in range {
                        let id = ids[c][row]
                        switch width {
                        case 1: raw.append(UInt8(id))
                        case 2: append(UInt16(id), to: &raw)
                        default: append(id, to: &raw)
                        }
                    }
                }
                writeBlock(raw, to: &out, ref: &footer)
            }
        }
        append(UInt64(rows), to: &footer)
        append(UInt32(SegmentFormat.rowsPerBlock), to: &footer)
        var minTimestamp = Int64.max, maxTimestamp = Int64.min
        for block in 0..<blockCount {
            let range = (block * SegmentFormat.rowsPerBlock)..<min(rows, (block + 1) * SegmentFormat.rowsPerBlock)
            let blockMin = timestamps[range].min()!, blockMax = timestamps[range].max()!
            append(UInt64(bitPattern: blockMin), to: &footer)
            append(UInt64(bitPattern: blockMax), to: &footer)
            minTimestamp = min(minTimestamp, blockMin)
            maxTimestamp = max(maxTimestamp, blockMax)
        }
        append(UInt32(replaces.count), to: &footer)
        for number in replaces { append(number, to: &footer) }
        append(walCovered, to: &footer)
        append(UInt64(bitPattern: minTimestamp), to: &footer)
        append(UInt64(bitPattern: maxTimestamp), to: &footer)

        let fileCRC = out.withUnsafeBytes { CRC32C.checksum($0) }
        let footerOffset = out.count
        let footerCRC = footer.withUnsafeBytes { CRC32C.checksum($0) }
        out.append(contentsOf: footer)
        append(UInt64(footerOffset), to: &out)
        append(UInt32(footer.count), to: &out)
        append(footerCRC, to: &out)
        append(fileCRC, to: &out)
        out.append(contentsOf: SegmentFormat.tailMagic)
        return (out, Summary(rows: rows, minTimestamp: minTimestamp, maxTimestamp: maxTimestamp))
    }

    /// Writes a dictionary as `count u32 | blocks u32 | (blockref | entries u32) × blocks` in the footer and
    /// as consecutive blocks of whole entries, each at most `limit` bytes raw.
    private static func writeDictionary(_ dictionary: ByteInterner, column: SegmentFormat.Column, limit: Int,
                                        to out: inout [UInt8], footer: inout [UInt8]) throws(SegmentWriteError) {
        append(UInt32(dictionary.count), to: &footer)
        var refs: [UInt8] = []
        var blocks = 0
        var raw: [UInt8] = []
        var first = 0
        while first < dictionary.count || blocks == 0 {
            // Take entries while `offset u32 × (entries + 1) + bytes` stays within the limit.
            var end = first
            while end < dictionary.count {
                let bytes = dictionary.offsets[end + 1] - dictionary.offsets[first]
                guard (end - first + 2) * 4 + bytes <= limit else { break }
                end += 1
            }
            if end == first && first < dictionary.count {
                let size = dictionary.offsets[first + 1] - dictionary.offsets[first]
                throw SegmentWriteError(description: "a \(column.rawValue) value of \(size) bytes exceeds the \(limit)-byte block limit")
            }
            raw.removeAll(keepingCapacity: true)
            let base = dictionary.offsets[first]
            for i in first...end { append(UInt32(dictionary.offsets[i] - base), to: &raw) }
            raw.append(contentsOf: dictionary.bytes[base..<dictionary.offsets[end]])
            writeBlock(raw, to: &out, ref: &refs)
            append(UInt32(end - first), to: &refs)
            blocks += 1
            first = end
        }
        append(UInt32(blocks), to: &footer)
        footer.append(contentsOf: refs)
    }

    /// LZ4-compresses `raw` (at most `SegmentFormat.maxBlockBytes`) onto `out` and writes its block reference into `ref`.
    private static func writeBlock(_ raw: [UInt8], to out: inout [UInt8], ref: inout [UInt8]) {
        let offset = out.count
        raw.withUnsafeBytes { LZ4.compress($0, appendingTo: &out) }
        let stored = out.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[offset...]) }
        let crc = CRC32C.checksum(stored)
        append(UInt64(offset), to: &ref)
        append(UInt32(out.count - offset), to: &ref)
        append(UInt32(raw.count), to: &ref)
        append(crc, to: &ref)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}

func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

extension SegmentFormat.Column {
    /// Position in `allCases`, for arrays indexed by column.
    public var index: Int {
        switch self {
        case .timestamp: 0
        case .visitor_id: 1
        case .session_id: 2
        case .event: 3
        case .site: 4
        case .origin: 5
        case .path: 6
        case .rest: 7
        case .referrer: 8
        case .user_agent: 9
        case .amount: 10
        case .currency: 11
        case .plan: 12
        case .goal: 13
        case .value: 14
        case .email: 15
        case .name: 16
        case .company: 17
        case .properties: 18
        case .country: 19
        case .region: 20
        case .city: 21
        }
    }
}

import Glibc
