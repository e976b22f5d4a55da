import ClarmEvents
import ClarmStorage

/// One event as a query needs it: strings as ids into the scan's `ByteInterner`, nothing else.
struct EventRow {
    var visitor: UInt32
    var session: UInt32
    var timestamp: Int64
    /// Arrival order within the shard, to order events of equal timestamps.
    var sequence: UInt32
    var event: UInt32
    var path: UInt32
    var origin: UInt32
    var rest: UInt32
    var referrer: UInt32
    var userAgent: UInt32
    var amount: UInt32
    var currency: UInt32
    /// The value of the query's first property dimension or filter key (`empty` when absent).
    var property: UInt32
}

/// The rows of one shard that belong to a site and a time range, read from segments (blocks outside the
/// range are skipped by their zone maps) and memtables.
struct ShardRows {
    var strings = ByteInterner()
    var rows: [EventRow] = []
    let empty: UInt32

    init() {
        empty = strings.id(for: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// `propertyKey` is the key of `EventRow.property`, if the query needs one.
    /// `columns` are the segment columns the query needs besides visitor, session and event name; the
    /// others are left empty in every row.
    static func scan(_ shard: ShardSnapshot, site: String, from: Int64, to: Int64, columns: Set<SegmentFormat.Column>,
                     propertyKey: String?) throws(SegmentCorruption) -> ShardRows {
        var scan = ShardRows()
        let siteBytes = Array(site.utf8)
        for segment in shard.segments where segment.maxTimestamp >= from && segment.minTimestamp < to {
            try scan.read(segment, site: siteBytes, from: from, to: to, extra: columns, propertyKey: propertyKey)
        }
        var reader = PropertyReader()
        let keyBytes = propertyKey.map { Array($0.utf8) }
        for memtable in shard.memtables {
            memtable.forEachChunk { chunk in
                EventRecordView.forEach(in: chunk) { view in
                    guard view.timestamp >= from, view.timestamp < to, view.site.elementsEqual(siteBytes) else { return }
                    scan.append(view, reader: &reader, propertyKey: keyBytes)
                }
            }
        }
        return scan
    }

    private mutating func append(_ view: EventRecordView, reader: inout PropertyReader, propertyKey: [UInt8]?) {
        let url = view.url
        let parts = URLParts(url)
        var amount = empty, currency = empty, property = empty
        reader.forEachMember(view.properties) { key, text in
            if key.elementsEqual("amount".utf8) { amount = strings.id(for: text) }
            if key.elementsEqual("currency".utf8) { currency = strings.id(for: text) }
            if let propertyKey, key.elementsEqual(propertyKey) { property = strings.id(for: text) }
        }
        rows.append(EventRow(
            visitor: strings.id(for: view.visitorID), session: strings.id(for: view.sessionID), timestamp: view.timestamp,
            sequence: UInt32(rows.count), event: strings.id(for: view.event),
            path: strings.id(for: UnsafeRawBufferPointer(rebasing: url[parts.path])),
            origin: strings.id(for: UnsafeRawBufferPointer(rebasing: url[parts.origin])),
            rest: strings.id(for: UnsafeRawBufferPointer(rebasing: url[parts.rest])),
            referrer: strings.id(for: view.referrer), userAgent: strings.id(for: view.userAgent),
            amount: amount, currency: currency, property: property))
    }

    /// Reads a segment's matching rows, translating each dictionary entry to this scan's ids once.
    private mutating func read(_ segment: Segment, site: [UInt8], from: Int64, to: Int64, extra: Set<SegmentFormat.Column>,
                               propertyKey: String?) throws(SegmentCorruption) {
        let siteDictionary = try segment.dictionary(.site)
        guard let siteID = (0..<siteDictionary.count).first(where: { siteDictionary.value($0).elementsEqual(site) }) else { return }

        typealias Column = SegmentFormat.Column
        // The property column: an extracted one when the key has its own column, else the raw properties.
        let propertyColumn: Column? = propertyKey.map { key in
            Column.propertyColumns.first { $0.propertyKey!.description == key } ?? .properties
        }
        var columns: [Column] = [.visitor_id, .session_id, .event] + extra.sorted { $0.index < $1.index }
        if let propertyColumn, !columns.contains(propertyColumn) { columns.append(propertyColumn) }
        var translations: [Column: [UInt32]] = [:]
        var dictionaries: [Column: Segment.Dictionary] = [:]
        for column in columns {
            dictionaries[column] = try segment.dictionary(column)
            translations[column] = [UInt32](repeating: .max, count: dictionaries[column]!.count)
        }
        var reader = PropertyReader()
        let keyBytes = propertyKey.map { Array($0.utf8) }
        func translate(_ column: Column, _ id: UInt32, raw: Bool = false) -> UInt32 {
            let cached = translations[column]![Int(id)]
            if cached != .max { return cached }
            let value = dictionaries[column]!.value(Int(id))
            var result = empty
            if raw, let keyBytes {
                // A key without its own column: read it out of the properties JSON, once per distinct object.
                Array(value).withUnsafeBytes { properties in
                    reader.forEachMember(properties) { key, text in
                        if key.elementsEqual(keyBytes) { result = strings.id(for: text) }
                    }
                }
            } else {
                result = Array(value).withUnsafeBytes { strings.id(for: $0) }
            }
            translations[column]![Int(id)] = result
            return result
        }

        var timestamps: [Int64] = []
        var sites: [UInt32] = []
        var ids: [Column: [UInt32]] = [:]
        var scratch: [UInt32] = []
        for block in 0..<segment.blockCount where segment.zones[block].max >= from && segment.zones[block].min < to {
            try segment.timestamps(block: block, into: &timestamps)
            try segment.ids(.site, block: block, into: &sites)
            let matching = timestamps.indices.filter { sites[$0] == UInt32(siteID) && timestamps[$0] >= from && timestamps[$0] < to }
            if matching.isEmpty { continue }
            for column in columns {
                try segment.ids(column, block: block, into: &scratch)
                ids[column] = scratch
            }
            for row in matching {
                func value(_ column: Column) -> UInt32 { ids[column].map { translate(column, $0[row]) } ?? empty }
                let property = propertyColumn.map { translate($0, ids[$0]![row], raw: $0 == .properties) } ?? empty
                rows.append(EventRow(
                    visitor: value(.visitor_id), session: value(.session_id), timestamp: timestamps[row],
                    sequence: UInt32(rows.count), event: value(.event), path: value(.path), origin: value(.origin),
                    rest: value(.rest), referrer: value(.referrer), userAgent: value(.user_agent),
                    amount: value(.amount), currency: value(.currency), property: property))
            }
        }
    }
}
