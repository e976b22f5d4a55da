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
    /// The `amount` property as written when it is a finite JSON number (so it counts as revenue), else `empty`.
    var amount: UInt32
    var currency: UInt32
    /// The raw properties JSON, when the scan asked for `.properties`.
    var properties: UInt32
    /// The value of the scan's property key (`empty` when absent).
    var property: UInt32
    /// Where the client was located (`empty` when unknown or not asked for).
    var country: UInt32
    var region: UInt32
    var city: UInt32
}

/// Which events of a shard a scan reads, and which of their columns.
struct RowSelection {
    typealias Column = SegmentFormat.Column

    var site: [UInt8]
    /// `[from, to)` in UTC milliseconds.
    var from: Int64 = .min
    var to: Int64 = .max
    /// Columns beyond visitor, session and event name; rows leave the others empty.
    var columns: Set<Column> = []
    /// The key whose value fills `EventRow.property`.
    var propertyKey: [UInt8]? = nil
    /// Only these visitors, when set.
    var visitors: Set<[UInt8]>? = nil
    /// Only events with these names, when set.
    var events: Set<[UInt8]>? = nil
    /// Asked between blocks and chunks; when it says stop, the scan returns what it has.
    var control = QueryControl.unlimited

    init(site: String) {
        self.site = Array(site.utf8)
    }
}

/// The rows of one shard that a `RowSelection` picks, read from segments (segments and row blocks outside
/// the range are skipped by their zone maps; dictionary entries are translated once per segment) and from
/// the memtables.
struct ShardRows {
    var strings = ByteInterner()
    var rows: [EventRow] = []
    /// Rows of visitors local to the segment `read` last, when it was given `local`: their `visitor` and
    /// `session` are that segment's ids (`session` shifted by one, `empty` (0, the first string interned) for no session id).
    var localRows: [EventRow] = []
    let empty: UInt32
    /// Bytes of `strings` already counted against the query's budget.
    private var countedStringBytes = 0

    init() {
        empty = strings.id(for: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    static func scan(_ shard: ShardSnapshot, _ selection: RowSelection) throws(SegmentCorruption) -> ShardRows {
        var scan = ShardRows()
        for segment in segments(of: shard, selection) {
            if scan.shouldStop(selection.control, addingRows: 0) { return scan }
            try scan.read(segment, selection, erased: shard.erased.visitors(site: selection.site))
        }
        scan.readMemtables(of: shard, selection)
        return scan
    }

    /// The segments of a shard whose time span meets the selection's range.
    static func segments(of shard: ShardSnapshot, _ selection: RowSelection) -> [Segment] {
        shard.segments.filter { $0.maxTimestamp >= selection.from && $0.minTimestamp < selection.to }
    }

    /// Appends the selected events of the shard's memtables to `rows`.
    mutating func readMemtables(of shard: ShardSnapshot, _ selection: RowSelection) {
        var reader = PropertyReader()
        let wanted = SegmentFormat.Column.allCases.map { selection.columns.contains($0) }
        // Memtable chunks can be large (one append's records stay together): the control is asked every 1024 events.
        var seen = 0, accounted = rows.count
        var stopped = shouldStop(selection.control, addingRows: 0)
        for memtable in shard.memtables where !stopped {
            memtable.forEachChunk { chunk in
                EventRecordView.forEach(in: chunk) { view in
                    if stopped { return }
                    seen += 1
                    if seen & 1023 == 0 {
                        stopped = shouldStop(selection.control, addingRows: rows.count - accounted)
                        accounted = rows.count
                    }
                    guard view.timestamp >= selection.from, view.timestamp < selection.to,
                          view.site.elementsEqual(selection.site),
                          !shard.erased.contains(site: view.site, visitor: view.visitorID),
                          selection.visitors.map({ $0.contains(Array(view.visitorID)) }) ?? true,
                          selection.events.map({ $0.contains(Array(view.event)) }) ?? true
                    else { return }
                    append(view, selection, wanted: wanted, reader: &reader)
                }
            }
        }
        _ = shouldStop(selection.control, addingRows: rows.count - accounted)
    }

    /// Counts `added` rows and the strings met since the last call against the query's budget, 64 bytes of
    /// strings as one row (a row's own size), so a few rows of long distinct values cannot hold unbounded memory.
    private mutating func shouldStop(_ control: QueryControl, addingRows added: Int) -> Bool {
        let units = (strings.bytes.count - countedStringBytes) / MemoryLayout<EventRow>.stride
        countedStringBytes += units * MemoryLayout<EventRow>.stride
        return control.shouldStop(addingRows: added + units)
    }

    /// Appends a memtable event's row, with the columns `wanted` (by `Column.index`) and the rest empty,
    /// as rows read from segments have.
    private mutating func append(_ view: EventRecordView, _ selection: RowSelection, wanted: [Bool],
                                 reader: inout PropertyReader) {
        typealias Column = SegmentFormat.Column
        func value(_ column: Column, _ bytes: @autoclosure () -> UnsafeRawBufferPointer) -> UInt32 {
            wanted[column.index] ? strings.id(for: bytes()) : empty
        }
        let url = view.url
        let parts = URLParts(url)
        var amount = empty, currency = empty, property = empty
        if wanted[Column.amount.index] || wanted[Column.currency.index] || selection.propertyKey != nil {
            reader.forEachMember(view.properties) { key, text, kind in
                if key.elementsEqual("amount".utf8) {
                    amount = kind == .number && PropertyReader.finiteValue(ofNumber: text) != nil ? value(.amount, text) : empty
                }
                if key.elementsEqual("currency".utf8) { currency = value(.currency, text) }
                if let propertyKey = selection.propertyKey, key.elementsEqual(propertyKey) { property = strings.id(for: text) }
            }
        }
        rows.append(EventRow(
            visitor: strings.id(for: view.visitorID), session: strings.id(for: view.sessionID), timestamp: view.timestamp,
            sequence: UInt32(rows.count), event: strings.id(for: view.event),
            path: value(.path, UnsafeRawBufferPointer(rebasing: url[parts.path])),
            origin: value(.origin, UnsafeRawBufferPointer(rebasing: url[parts.origin])),
            rest: value(.rest, UnsafeRawBufferPointer(rebasing: url[parts.rest])),
            referrer: value(.referrer, view.referrer), userAgent: value(.user_agent, view.userAgent),
            amount: amount, currency: currency, properties: value(.properties, view.properties), property: property,
            country: value(.country, view.country), region: value(.region, view.region), city: value(.city, view.city)))
    }

    /// Appends a segment's selected rows to `rows`; rows of `erased` visitors are skipped, decided once per
    /// dictionary entry. The rows of visitors that `local` marks (by visitor id of the segment) go to
    /// `localRows` instead, keyed by the segment's own visitor and session ids: those visitors have no rows
    /// anywhere else, so their ids need no translation (docs/QUERIES.md, "How it runs").
    mutating func read(_ segment: Segment, _ selection: RowSelection, erased: Set<[UInt8]>,
                       local: [Bool]? = nil) throws(SegmentCorruption) {
        typealias Column = SegmentFormat.Column
        /// Whether each dictionary id of a column in this segment is among the wanted values (a table, so that
        /// a row's test is one load, not a hash); nil when none is present.
        func wanted(_ column: Column, _ values: Set<[UInt8]>) throws(SegmentCorruption) -> [Bool]? {
            let dictionary = try segment.dictionary(column)
            let table = (0..<dictionary.count).map { values.contains(Array(dictionary.value($0))) }
            return table.contains(true) ? table : nil
        }
        guard let sites = try wanted(.site, [selection.site]) else { return }
        let everySite = !sites.contains(false)
        var visitors: [Bool]? = nil
        if let wantedVisitors = selection.visitors {
            guard let ids = try wanted(.visitor_id, wantedVisitors) else { return }
            visitors = ids
        }
        var events: [Bool]? = nil
        if let wantedEvents = selection.events {
            guard let ids = try wanted(.event, wantedEvents) else { return }
            events = ids
        }
        let erasedIDs = erased.isEmpty ? nil : try wanted(.visitor_id, erased)

        // A key with its own column is read from it; any other key is read out of the raw properties.
        let keyColumn: Column? = selection.propertyKey.map { key in
            Column.propertyColumns.first { $0.propertyKey!.withUTF8Buffer { $0.elementsEqual(key) } } ?? .properties
        }
        var columns: [Column] = [.visitor_id, .session_id, .event] + selection.columns.sorted { $0.index < $1.index }
        if let keyColumn, !columns.contains(keyColumn) { columns.append(keyColumn) }
        // Per column (by `Column.index`): its dictionary, the translation of its ids, its ids in the current block.
        let count = Column.allCases.count
        var dictionaries = [Segment.Dictionary?](repeating: nil, count: count)
        var translations = [[UInt32]](repeating: [], count: count)
        var blockIDs = [[UInt32]](repeating: [], count: count)
        for column in columns {
            let dictionary = try segment.dictionary(column)
            dictionaries[column.index] = dictionary
            translations[column.index] = [UInt32](repeating: .max, count: dictionary.count)
        }
        // The segment's id of the empty session id, if any row lacks one (local rows need no translation).
        let sessions = dictionaries[Column.session_id.index]!
        let noSession = UInt32((0..<sessions.count).first { sessions.offsets[$0] == sessions.offsets[$0 + 1] } ?? sessions.count)
        var keyTranslation = keyColumn.map { [UInt32](repeating: .max, count: dictionaries[$0.index]!.count) } ?? []
        var amounts = dictionaries[Column.amount.index].map {
            SegmentAmounts(segment, amounts: $0, properties: dictionaries[Column.properties.index])
        }
        var reader = PropertyReader()

        func translate(_ column: Int, _ id: UInt32) -> UInt32 {
            let cached = translations[column][Int(id)]
            if cached != .max { return cached }
            let result = Array(dictionaries[column]!.value(Int(id))).withUnsafeBytes { strings.id(for: $0) }
            translations[column][Int(id)] = result
            return result
        }
        func keyValue(_ id: UInt32) -> UInt32 {
            guard let keyColumn, let key = selection.propertyKey else { return empty }
            if keyColumn != .properties { return translate(keyColumn.index, id) }
            if keyTranslation[Int(id)] != .max { return keyTranslation[Int(id)] }
            var result = empty
            Array(dictionaries[Column.properties.index]!.value(Int(id))).withUnsafeBytes { properties in
                reader.forEachMember(properties) { name, text in
                    if name.elementsEqual(key) { result = strings.id(for: text) }
                }
            }
            keyTranslation[Int(id)] = result
            return result
        }
        // The columns a row gets, as indexes; the rest stay empty.
        let wantedColumns = Set([Column.visitor_id, .session_id, .event]).union(selection.columns)
        let read = Column.allCases.map { wantedColumns.contains($0) }

        var timestamps: [Int64] = []
        var scratch: [UInt32] = []
        for block in 0..<segment.blockCount where segment.zones[block].max >= selection.from && segment.zones[block].min < selection.to {
            try segment.timestamps(block: block, into: &timestamps)
            let zone = segment.zones[block]
            var matching: [Int]
            if everySite && zone.min >= selection.from && zone.max < selection.to {
                // The block lies in the range and the segment holds no other site: every row is in.
                matching = Array(timestamps.indices)
            } else {
                try segment.ids(.site, block: block, into: &scratch)
                matching = timestamps.indices.filter {
                    sites[Int(scratch[$0])] && timestamps[$0] >= selection.from && timestamps[$0] < selection.to
                }
            }
            if visitors != nil || erasedIDs != nil {
                try segment.ids(.visitor_id, block: block, into: &scratch)
                if let visitors { matching.removeAll { !visitors[Int(scratch[$0])] } }
                if let erasedIDs { matching.removeAll { erasedIDs[Int(scratch[$0])] } }
            }
            if let events {
                try segment.ids(.event, block: block, into: &scratch)
                matching.removeAll { !events[Int(scratch[$0])] }
            }
            if matching.isEmpty { continue }
            for column in columns {
                try segment.ids(column, block: block, into: &blockIDs[column.index])
            }
            let visitorIDs = blockIDs[Column.visitor_id.index], sessionIDs = blockIDs[Column.session_id.index]
            // Only rows kept beyond this segment count against the query's row budget.
            let kept = local.map { local in matching.count { !local[Int(visitorIDs[$0])] } } ?? matching.count
            if shouldStop(selection.control, addingRows: kept) { return }
            for row in matching {
                func value(_ column: Column) -> UInt32 {
                    read[column.index] ? translate(column.index, blockIDs[column.index][row]) : empty
                }
                var amount = value(.amount)
                if amount != empty, try !amounts!.counts(blockIDs[Column.amount.index][row], row: row, block: block) {
                    amount = empty
                }
                var event = EventRow(
                    visitor: 0, session: 0, timestamp: timestamps[row],
                    sequence: 0, event: value(.event), path: value(.path), origin: value(.origin),
                    rest: value(.rest), referrer: value(.referrer), userAgent: value(.user_agent),
                    amount: amount, currency: value(.currency), properties: value(.properties),
                    property: keyColumn.map { keyValue(blockIDs[$0.index][row]) } ?? empty,
                    country: value(.country), region: value(.region), city: value(.city))
                if let local, local[Int(visitorIDs[row])] {
                    event.visitor = visitorIDs[row]
                    event.session = sessionIDs[row] == noSession ? empty : sessionIDs[row] + 1
                    event.sequence = UInt32(localRows.count)
                    localRows.append(event)
                } else {
                    event.visitor = value(.visitor_id)
                    event.session = value(.session_id)
                    event.sequence = UInt32(rows.count)
                    rows.append(event)
                }
            }
        }
    }
}
