import ClarmEvents
import ClarmStorage
import Foundation

/// The events stored before shipping was enabled, sent to ClickHouse once (docs/SCALE.md, "Backfill").
///
/// When a data directory first ships (no `clickhouse/backfill.done`, no `clickhouse/backfill.rows`), `prepare`
/// runs before the gateway listens: it points the change feed at the end of every shard's log, then writes
/// every stored event as RowBinary batches into `backfill.rows` (temp file, fsync, rename). Nothing is
/// acknowledged meanwhile, so the feed and the backfill hold each event exactly once between them. A crash
/// before the rename repeats both steps. Rows carry the content key (segments do not keep `event_id`), so a
/// batch sent twice collapses. `backfill.progress` holds the offset of the first batch not yet acknowledged
/// by ClickHouse; at the end, `backfill.done` replaces both files.
public final class ClickHouseBackfill: @unchecked Sendable {
    public struct Batch: Sendable {
        public let rows: [UInt8]
        let count: Int
        let end: UInt64
    }

    let directory: String
    private let lock = NSLock()
    private var handle: FileHandle?
    private var offset: UInt64 = 0
    private var size: UInt64 = 0
    private var current = ShippingStatus.BackfillStatus()

    static let batchRows = 10_000

    var rowsPath: String { "\(directory)/backfill.rows" }
    var progressPath: String { "\(directory)/backfill.progress" }
    var donePath: String { "\(directory)/backfill.done" }

    /// Opens (or first creates) the backfill of `store` under `directory`. `resetFeed` must point the feed's
    /// cursors at the end of every shard's log; it runs only when the backfill is made.
    public init(directory: String, store: Store, resetFeed: () throws -> Void) throws {
        self.directory = directory
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if files.fileExists(atPath: donePath) { return }
        if !files.fileExists(atPath: rowsPath) {
            try resetFeed()
            try Self.export(store, to: rowsPath)
        }
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: rowsPath))
        self.handle = handle
        size = try handle.seekToEnd()
        if let text = try? String(contentsOfFile: progressPath, encoding: .utf8), let saved = UInt64(text), saved <= size {
            offset = saved
        }
        current.rows = try Self.countRows(handle, size: size)
        current.shipped = try Self.countRows(handle, size: offset)
        // Nothing was stored before (or all of it was sent before a crash): done without a batch to send.
        if offset >= size { try complete() } else { current.done = false }
    }

    public var status: ShippingStatus.BackfillStatus { lock.withLock { current } }

    /// The next batch not yet acknowledged, nil when all are.
    func next() throws -> Batch? {
        try lock.withLock {
            guard let handle, offset < size else { return nil }
            try handle.seek(toOffset: offset)
            guard let header = try handle.read(upToCount: 8), header.count == 8 else { throw CocoaError(.fileReadCorruptFile) }
            let length = UInt64(header.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian)
            let count = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }.littleEndian)
            guard offset + 8 + length <= size, let rows = try handle.read(upToCount: Int(length)), rows.count == Int(length) else {
                throw CocoaError(.fileReadCorruptFile)
            }
            return Batch(rows: Array(rows), count: count, end: offset + 8 + length)
        }
    }

    /// Records that ClickHouse acknowledged `batch`; after the last one, the backfill is done.
    func shipped(_ batch: Batch) throws {
        try lock.withLock {
            offset = batch.end
            current.shipped += batch.count
            if offset >= size {
                try complete()
            } else {
                try DurableFile.write(Data(String(offset).utf8), to: progressPath, directory: directory)
            }
        }
    }

    /// `backfill.done` replaces the rows and the progress: ClickHouse has every row.
    private func complete() throws {
        try DurableFile.write(Data("done\n".utf8), to: donePath, directory: directory)
        try? FileManager.default.removeItem(atPath: rowsPath)
        try? FileManager.default.removeItem(atPath: progressPath)
        try? handle?.close()
        handle = nil
        current.done = true
    }

    /// Writes every stored event (erased visitors' skipped) as batches of `batchRows` rows.
    static func export(_ store: Store, to path: String) throws {
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        var writer = RowBinaryWriter()
        var reader = PropertyReader()
        var count = 0
        func flush() throws {
            guard count > 0 else { return }
            var header = Data()
            withUnsafeBytes(of: UInt32(writer.bytes.count).littleEndian) { header.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(count).littleEndian) { header.append(contentsOf: $0) }
            try out.write(contentsOf: header + Data(writer.bytes))
            writer.removeAll()
            count = 0
        }
        func add(_ record: EventRecord, erased: ErasureSet) throws {
            let gone = Array(record.site.utf8).withUnsafeBytes { site in
                Array(record.visitorID.utf8).withUnsafeBytes { erased.contains(site: site, visitor: $0) }
            }
            if gone { return }
            ClickHouseRow.append(record, key: ClickHouseRow.contentKey(record), to: &writer, reader: &reader)
            count += 1
            if count == batchRows { try flush() }
        }
        for shard in store.snapshot() {
            for segment in shard.segments {
                for record in try segment.records() { try add(record, erased: shard.erased) }
            }
            for memtable in shard.memtables {
                var records: [EventRecord] = []
                memtable.forEachChunk { chunk in EventRecordView.forEach(in: chunk) { records.append($0.record) } }
                for record in records { try add(record, erased: shard.erased) }
            }
        }
        try flush()
        try out.synchronize()
        try out.close()
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        try DurableFile.syncDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static func countRows(_ handle: FileHandle, size: UInt64) throws -> Int {
        var position: UInt64 = 0
        var rows = 0
        while position < size {
            try handle.seek(toOffset: position)
            guard let header = try handle.read(upToCount: 8), header.count == 8 else { throw CocoaError(.fileReadCorruptFile) }
            rows += Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }.littleEndian)
            position += 8 + UInt64(header.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian)
        }
        return rows
    }
}
