import ClarmEvents
import Glibc

/// Damage in a segment file: which file, and which column and block when known.
public struct SegmentCorruption: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}

/// An immutable segment, read through a read-only memory map; every byte is checked before it is trusted.
public final class Segment: @unchecked Sendable {
    public struct BlockRef: Sendable {
        public let offset: Int
        public let storedLength: Int
        public let rawLength: Int
        let crc: UInt32
    }

    /// One block of a dictionary: a run of `entries` consecutive values.
    public struct DictionaryBlock: Sendable {
        public let ref: BlockRef
        public let entries: Int
    }

    public struct ColumnInfo: Sendable {
        public let name: String
        public let encoding: SegmentFormat.Encoding
        public let width: Int
        /// The dictionary's blocks in id order (encoding 1 only); their entries add up to `dictionaryCount`.
        public let dictionaryBlocks: [DictionaryBlock]
        public let dictionaryCount: Int
        public let blocks: [BlockRef]
    }

    public let path: String
    /// The number in the file name (`seg-NNNN.cseg`).
    public let number: UInt64
    public let rowCount: Int
    public let rowsPerBlock: Int
    public let walCovered: UInt64
    /// Numbers of the segments this one was compacted from.
    public let replaces: [UInt64]
    public let minTimestamp: Int64
    public let maxTimestamp: Int64
    public let columns: [ColumnInfo]
    /// Min and max timestamp of each row block.
    public let zones: [(min: Int64, max: Int64)]
    public let fileSize: Int
    /// The format version the file was written in (1 or 2).
    public let version: UInt32
    private let map: UnsafeRawBufferPointer
    private let footerOffset: Int
    private let fileCRC: UInt32

    /// Maps and checks the file's tail and footer; throws `SegmentCorruption` on any inconsistency.
    public init(path: String) throws(SegmentCorruption) {
        self.path = path
        number = Shard.number(in: String(path.split(separator: "/").last ?? ""), prefix: "seg-", suffix: ".cseg") ?? 0
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SegmentCorruption(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SegmentCorruption(path: path, reason: "cannot stat") }
        fileSize = Int(info.st_size)
        guard fileSize >= SegmentFormat.headerSize + SegmentFormat.tailSize else {
            throw SegmentCorruption(path: path, reason: "file of \(fileSize) bytes is too short to be a segment")
        }
        guard let address = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw SegmentCorruption(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        // The mapping covers exactly the file size read by fstat; segments are immutable once published.
        map = UnsafeRawBufferPointer(start: address, count: fileSize)
        do {
            let parsed = try Self.parse(map)
            version = parsed.version
            rowCount = parsed.rowCount
            rowsPerBlock = parsed.rowsPerBlock
            walCovered = parsed.walCovered
            replaces = parsed.replaces
            minTimestamp = parsed.minTimestamp
            maxTimestamp = parsed.maxTimestamp
            columns = parsed.columns
            zones = parsed.zones
            footerOffset = parsed.footerOffset
            fileCRC = parsed.fileCRC
        } catch {
            munmap(address, fileSize)
            throw SegmentCorruption(path: path, reason: error.reason)
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: map.baseAddress), map.count)
    }

    private struct Parsed {
        var version: UInt32 = 0
        var rowCount = 0, rowsPerBlock = 0, footerOffset = 0
        var walCovered: UInt64 = 0
        var replaces: [UInt64] = []
        var minTimestamp: Int64 = 0, maxTimestamp: Int64 = 0
        var columns: [ColumnInfo] = []
        var zones: [(min: Int64, max: Int64)] = []
        var fileCRC: UInt32 = 0
    }

    private static func parse(_ map: UnsafeRawBufferPointer) throws(FormatError) -> Parsed {
        guard map.prefix(4).elementsEqual(SegmentFormat.headerMagic) else { throw FormatError(reason: "bad header magic") }
        guard map.suffix(4).elementsEqual(SegmentFormat.tailMagic) else { throw FormatError(reason: "bad tail magic (truncated?)") }
        var parsed = Parsed()
        do {
            var header = ByteCursor(map, at: 4)
            parsed.version = try header.read(UInt32.self)
            guard parsed.version == 1 || parsed.version == SegmentFormat.version else {
                throw FormatError(reason: "unknown segment version \(parsed.version)")
            }
            let maxRaw = parsed.version == 1 ? SegmentFormat.maxLegacyBlockBytes : SegmentFormat.maxBlockBytes
            var tail = ByteCursor(map, at: map.count - SegmentFormat.tailSize)
            let footerOffset = Int(truncatingIfNeeded: try tail.read(UInt64.self))
            let footerLength = Int(try tail.read(UInt32.self))
            let footerCRC = try tail.read(UInt32.self)
            parsed.fileCRC = try tail.read(UInt32.self)
            guard footerOffset >= SegmentFormat.headerSize, footerLength >= 0,
                  footerOffset <= map.count - SegmentFormat.tailSize - footerLength,
                  footerOffset + footerLength == map.count - SegmentFormat.tailSize
            else { throw FormatError(reason: "footer position does not match the file size") }
            let footer = UnsafeRawBufferPointer(rebasing: map[footerOffset..<(footerOffset + footerLength)])
            guard CRC32C.checksum(footer) == footerCRC else { throw FormatError(reason: "footer checksum mismatch") }
            parsed.footerOffset = footerOffset

            var cursor = ByteCursor(footer)
            let columnCount = Int(try cursor.read(UInt32.self))
            guard columnCount <= 1024 else { throw FormatError(reason: "implausible column count \(columnCount)") }
            func blockRef(_ cursor: inout ByteCursor) throws(FormatError) -> BlockRef {
                do {
                    let ref = BlockRef(offset: Int(truncatingIfNeeded: try cursor.read(UInt64.self)),
                                       storedLength: Int(try cursor.read(UInt32.self)),
                                       rawLength: Int(try cursor.read(UInt32.self)), crc: try cursor.read(UInt32.self))
                    guard ref.offset >= SegmentFormat.headerSize, ref.offset <= footerOffset - ref.storedLength else {
                        throw FormatError(reason: "block at \(ref.offset) (\(ref.storedLength) bytes) lies outside the data")
                    }
                    guard ref.rawLength <= maxRaw else {
                        throw FormatError(reason: "block at \(ref.offset) declares \(ref.rawLength) raw bytes, over the \(maxRaw)-byte limit")
                    }
                    return ref
                }
            }
            for _ in 0..<columnCount {
                let nameLength = Int(try cursor.read(UInt16.self))
                let name = String(decoding: try cursor.bytes(nameLength), as: UTF8.self)
                guard let encoding = SegmentFormat.Encoding(rawValue: try cursor.read(UInt8.self)) else {
                    throw FormatError(reason: "column \(name): unknown encoding")
                }
                let width = Int(try cursor.read(UInt8.self))
                var dictionaryBlocks: [DictionaryBlock] = []
                var dictionaryCount = 0
                if encoding == .dictionary {
                    guard [1, 2, 4].contains(width) else { throw FormatError(reason: "column \(name): bad id width \(width)") }
                    if parsed.version == 1 {
                        let ref = try blockRef(&cursor)
                        dictionaryCount = Int(try cursor.read(UInt32.self))
                        dictionaryBlocks = [DictionaryBlock(ref: ref, entries: dictionaryCount)]
                    } else {
                        dictionaryCount = Int(try cursor.read(UInt32.self))
                        let count = Int(try cursor.read(UInt32.self))
                        guard count >= 1, count <= footerLength else { throw FormatError(reason: "column \(name): implausible dictionary block count") }
                        var entries = 0
                        for _ in 0..<count {
                            let block = DictionaryBlock(ref: try blockRef(&cursor), entries: Int(try cursor.read(UInt32.self)))
                            entries += block.entries
                            dictionaryBlocks.append(block)
                        }
                        guard entries == dictionaryCount else {
                            throw FormatError(reason: "column \(name): dictionary blocks hold \(entries) entries, expected \(dictionaryCount)")
                        }
                    }
                }
                let blockCount = Int(try cursor.read(UInt32.self))
                guard blockCount <= footerLength else { throw FormatError(reason: "column \(name): implausible block count") }
                var blocks: [BlockRef] = []
                for _ in 0..<blockCount { blocks.append(try blockRef(&cursor)) }
                parsed.columns.append(ColumnInfo(name: name, encoding: encoding, width: width, dictionaryBlocks: dictionaryBlocks,
                                                 dictionaryCount: dictionaryCount, blocks: blocks))
            }
            parsed.rowCount = Int(truncatingIfNeeded: try cursor.read(UInt64.self))
            parsed.rowsPerBlock = Int(try cursor.read(UInt32.self))
            guard parsed.rowsPerBlock > 0, parsed.rowsPerBlock <= SegmentFormat.rowsPerBlock,
                  parsed.rowCount >= 0, parsed.rowCount <= SegmentFormat.maxRows
            else { throw FormatError(reason: "bad row counts (\(parsed.rowCount) rows, \(parsed.rowsPerBlock) per block)") }
            let blockCount = (parsed.rowCount + parsed.rowsPerBlock - 1) / parsed.rowsPerBlock
            for column in parsed.columns where column.blocks.count != blockCount {
                throw FormatError(reason: "column \(column.name) has \(column.blocks.count) blocks, expected \(blockCount)")
            }
            for _ in 0..<blockCount {
                parsed.zones.append((Int64(bitPattern: try cursor.read(UInt64.self)), Int64(bitPattern: try cursor.read(UInt64.self))))
            }
            let replaced = Int(try cursor.read(UInt32.self))
            guard replaced <= footer.count / 8 else { throw FormatError(reason: "implausible count of replaced segments") }
            for _ in 0..<replaced { parsed.replaces.append(try cursor.read(UInt64.self)) }
            parsed.walCovered = try cursor.read(UInt64.self)
            parsed.minTimestamp = Int64(bitPattern: try cursor.read(UInt64.self))
            parsed.maxTimestamp = Int64(bitPattern: try cursor.read(UInt64.self))
            guard cursor.position == footer.count else { throw FormatError(reason: "footer has trailing bytes") }
        }
        return parsed
    }

    // MARK: Reading blocks

    /// Checks the CRC of every byte before the footer (what `clarm verify` does; opening does not).
    public func verifyFileChecksum() throws(SegmentCorruption) {
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: map[0..<footerOffset])) == fileCRC else {
            throw SegmentCorruption(path: path, reason: "file checksum mismatch")
        }
    }

    /// Checks everything a reader will ever rely on: the file checksum, every block's checksum and decoding,
    /// every dictionary's structure, every id against its dictionary, and every zone map against the
    /// timestamps it summarizes. A segment that passes reads back completely.
    public func verify() throws(SegmentCorruption) {
        try verifyFileChecksum()
        var ids: [UInt32] = []
        var timestamps: [Int64] = []
        // A later column a segment predates reads as empty and has nothing to check; every other must be there.
        for column in SegmentFormat.Column.allCases where !column.mayBeAbsent || has(column) {
            let info = try self.column(column)
            guard info.encoding == column.encoding else { throw SegmentCorruption(path: path, reason: "column \(info.name): wrong encoding") }
            if column.encoding == .dictionary { _ = try dictionary(column) }
            for block in 0..<blockCount {
                if column.encoding == .delta {
                    try self.timestamps(block: block, into: &timestamps)
                    guard timestamps.min() == zones[block].min, timestamps.max() == zones[block].max else {
                        throw SegmentCorruption(path: path, reason: "block \(block): zone map does not match its timestamps")
                    }
                } else {
                    try self.ids(column, block: block, into: &ids)
                }
            }
        }
        guard zones.isEmpty || (zones.map(\.min).min() == minTimestamp && zones.map(\.max).max() == maxTimestamp) else {
            throw SegmentCorruption(path: path, reason: "segment time range does not match its zone maps")
        }
    }

    /// Whether the file holds `column` (a column that `mayBeAbsent` reads as empty when it does not).
    public func has(_ column: SegmentFormat.Column) -> Bool {
        columns.contains { $0.name == column.rawValue }
    }

    public func column(_ column: SegmentFormat.Column) throws(SegmentCorruption) -> ColumnInfo {
        guard let info = columns.first(where: { $0.name == column.rawValue }) else {
            throw SegmentCorruption(path: path, reason: "no column \(column.rawValue)")
        }
        return info
    }

    /// Checks and decompresses one block into `output` (resized to its raw length).
    public func decode(_ ref: BlockRef, column: String, block: String, into output: inout [UInt8]) throws(SegmentCorruption) {
        let stored = UnsafeRawBufferPointer(rebasing: map[ref.offset..<(ref.offset + ref.storedLength)])
        guard CRC32C.checksum(stored) == ref.crc else {
            throw SegmentCorruption(path: path, reason: "column \(column), \(block): checksum mismatch")
        }
        // LZ4 expands a block less than 255-fold (a match's length grows by at most 255 per byte), so a larger
        // raw length is damage: refuse it before allocating for it (version 1 allows raw lengths up to 1 GiB).
        guard ref.rawLength <= ref.storedLength * 255 else {
            throw SegmentCorruption(path: path, reason: "column \(column), \(block): implausible size")
        }
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: repeatElement(0, count: ref.rawLength))
        let decoded = output.withUnsafeMutableBytes { raw in
            (try? LZ4.decompress(stored, decodedCount: ref.rawLength, into: raw)) != nil
        }
        guard decoded else {
            throw SegmentCorruption(path: path, reason: "column \(column), \(block): LZ4 data does not decode")
        }
    }

    /// A column's dictionary: the values' bytes and where each starts.
    public struct Dictionary: Sendable {
        public let offsets: [Int]
        public let bytes: [UInt8]
        public var count: Int { offsets.count - 1 }

        public func value(_ id: Int) -> ArraySlice<UInt8> { bytes[offsets[id]..<offsets[id + 1]] }
    }

    /// Reads a column's dictionary blocks into one table; each block is `offset u32 × (entries + 1) | bytes`
    /// with ascending offsets from 0 that end inside it.
    public func dictionary(_ column: SegmentFormat.Column) throws(SegmentCorruption) -> Dictionary {
        // An absent later column: one entry, the empty string, which `ids` gives every row.
        if column.mayBeAbsent && !has(column) { return Dictionary(offsets: [0, 0], bytes: []) }
        let info = try self.column(column)
        guard info.encoding == .dictionary else { throw SegmentCorruption(path: path, reason: "column \(info.name) has no dictionary") }
        var offsets: [Int] = [0]
        var bytes: [UInt8] = []
        var raw: [UInt8] = []
        for (index, block) in info.dictionaryBlocks.enumerated() {
            let place = "dictionary block \(index)"
            try decode(block.ref, column: info.name, block: place, into: &raw)
            let entries = block.entries
            guard raw.count >= (entries + 1) * 4 else { throw SegmentCorruption(path: path, reason: "column \(info.name), \(place): too short") }
            // Reserved only once the block holds that many offsets: the footer's entry counts are not checked
            // against anything before, and a damaged one would reserve gigabytes.
            offsets.reserveCapacity(offsets.count + entries)
            let valueBytes = raw.count - (entries + 1) * 4
            let base = bytes.count
            let ordered: Bool = raw.withUnsafeBytes { r in
                var previous = 0
                for i in 0...entries {
                    let offset = Int(UInt32(littleEndian: r.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    guard offset >= previous, offset <= valueBytes, i > 0 || offset == 0 else { return false }
                    if i > 0 { offsets.append(base + offset) }
                    previous = offset
                }
                return previous == valueBytes
            }
            guard ordered else { throw SegmentCorruption(path: path, reason: "column \(info.name), \(place): offsets out of order") }
            bytes.append(contentsOf: raw[((entries + 1) * 4)...])
        }
        return Dictionary(offsets: offsets, bytes: bytes)
    }

    /// The ids of a dictionary column for one row block, each checked against the dictionary size.
    public func ids(_ column: SegmentFormat.Column, block: Int, into ids: inout [UInt32]) throws(SegmentCorruption) {
        if column.mayBeAbsent && !has(column) {
            ids.removeAll(keepingCapacity: true)
            ids.append(contentsOf: repeatElement(0, count: rowsIn(block: block)))
            return
        }
        let info = try self.column(column)
        // Only dictionary columns have a checked id width (1, 2 or 4).
        guard info.encoding == .dictionary else { throw SegmentCorruption(path: path, reason: "column \(info.name) is not dictionary-encoded") }
        var raw: [UInt8] = []
        try decode(info.blocks[block], column: info.name, block: "block \(block)", into: &raw)
        let rows = rowsIn(block: block)
        guard raw.count == rows * info.width else { throw SegmentCorruption(path: path, reason: "column \(info.name), block \(block): wrong size") }
        ids.removeAll(keepingCapacity: true)
        raw.withUnsafeBytes { r in
            for row in 0..<rows {
                switch info.width {
                case 1: ids.append(UInt32(r[row]))
                case 2: ids.append(UInt32(UInt16(littleEndian: r.loadUnaligned(fromByteOffset: row * 2, as: UInt16.self))))
                default: ids.append(UInt32(littleEndian: r.loadUnaligned(fromByteOffset: row * 4, as: UInt32.self)))
                }
            }
        }
        guard ids.allSatisfy({ Int($0) < info.dictionaryCount }) else {
            throw SegmentCorruption(path: path, reason: "column \(info.name), block \(block): id past the dictionary")
        }
    }

    public func timestamps(block: Int, into values: inout [Int64]) throws(SegmentCorruption) {
        let info = try self.column(.timestamp)
        var raw: [UInt8] = []
        try decode(info.blocks[block], column: info.name, block: "block \(block)", into: &raw)
        values.removeAll(keepingCapacity: true)
        let rows = rowsIn(block: block)
        let complete: Bool = raw.withUnsafeBytes { r in
            var cursor = ByteCursor(r)
            var previous: Int64 = 0
            for _ in 0..<rows {
                guard let delta = try? Varint.readZigZag(&cursor) else { return false }
                previous &+= delta
                values.append(previous)
            }
            return cursor.position == r.count
        }
        guard complete else { throw SegmentCorruption(path: path, reason: "column timestamp, block \(block): malformed varints") }
    }

    public func rowsIn(block: Int) -> Int {
        min(rowsPerBlock, rowCount - block * rowsPerBlock)
    }

    public var blockCount: Int { zones.count }

    /// Decodes every row back into an event (without `event_id` and `received_at`, which segments do not keep).
    public func records() throws(SegmentCorruption) -> [EventRecord] {
        var bytes: [UInt8] = []
        try appendRecords(to: &bytes)
        var records: [EventRecord] = []
        bytes.withUnsafeBytes { raw in _ = EventRecordView.forEach(in: raw) { records.append($0.record) } }
        return records
    }

    /// Appends every row in `EventRecord` layout (with empty `event_id` and zero `received_at`).
    public func appendRecords(to out: inout [UInt8]) throws(SegmentCorruption) {
        try appendRecords(to: &out, blocks: 0..<blockCount)
    }

    /// Appends the rows of `blocks` (see `zones` for their timestamps) in `EventRecord` layout.
    public func appendRecords(to out: inout [UInt8], blocks: Range<Int>) throws(SegmentCorruption) {
        let stringColumns = SegmentFormat.Column.allCases.filter { $0.encoding == .dictionary }
        var dictionaries: [SegmentFormat.Column: Dictionary] = [:]
        for column in stringColumns { dictionaries[column] = try dictionary(column) }
        var timestamps: [Int64] = []
        var ids: [SegmentFormat.Column: [UInt32]] = [:]
        for block in blocks.clamped(to: 0..<blockCount) {
            try self.timestamps(block: block, into: &timestamps)
            for column in stringColumns {
                var values: [UInt32] = []
                try self.ids(column, block: block, into: &values)
                ids[column] = values
            }
            for row in 0..<rowsIn(block: block) {
                let start = out.count
                func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
                func value(_ column: SegmentFormat.Column) -> ArraySlice<UInt8> { dictionaries[column]!.value(Int(ids[column]![row])) }
                func string(_ parts: ArraySlice<UInt8>...) {
                    put(UInt32(parts.reduce(0) { $0 + $1.count }))
                    for part in parts { out.append(contentsOf: part) }
                }
                put(UInt32(0))
                out.append(EventRecord.version)
                put(timestamps[row])
                put(Int64(0))
                string(value(.event))
                string(value(.visitor_id))
                string(value(.session_id))
                string([])
                string(value(.origin), value(.path), value(.rest))
                string(value(.referrer))
                string(value(.user_agent))
                string(value(.properties))
                string(value(.site))
                string(value(.country))
                string(value(.region))
                string(value(.city))
                let length = UInt32(out.count - start - 4)
                out.withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: start, as: UInt32.self) }
            }
        }
    }
}
