import ClarmEvents

/// Checks every checksum of a store on disk without changing anything (`clarm verify`). It takes no lock and
/// only reads, so it may run beside a live server.
public enum StoreVerifier {
    public struct Finding: Sendable, CustomStringConvertible {
        public let path: String
        public let message: String
        /// False for conditions recovery handles by design, such as a log's torn last record.
        public let isDamage: Bool

        public var description: String { "\(isDamage ? "DAMAGED" : "ok     ") \(path): \(message)" }
    }

    public static func verify(directory: String, fileSystem: FileSystem = PosixFileSystem()) -> [Finding] {
        var findings: [Finding] = []
        let manifest = "\(directory)/MANIFEST"
        guard let text = try? fileSystem.readAll(manifest), Store.parseManifest(String(decoding: text, as: UTF8.self)) != nil else {
            return [Finding(path: manifest, message: "missing or unreadable manifest", isDamage: true)]
        }
        let shards = ((try? fileSystem.list(directory)) ?? []).filter { $0.hasPrefix("shard-") }
        for shard in shards {
            let shardPath = "\(directory)/\(shard)"
            for name in (try? fileSystem.list(shardPath)) ?? [] {
                let path = "\(shardPath)/\(name)"
                let finding: Finding? = if let number = Shard.number(in: name, prefix: "wal-", suffix: ".log") {
                    verifyLog(path, commitPoint: "\(shardPath)/\(LogCommitPoint.name(number))", fileSystem)
                } else if name.hasPrefix("seg-") && name.hasSuffix(".cseg") {
                    verifySegment(path)
                } else if DedupFile.number(in: name) != nil {
                    verifyDedupFile(path, fileSystem)
                } else if let consumer = FeedCursor.consumer(inFileName: name) {
                    verifyFeedCursor(path, consumer: consumer, fileSystem)
                } else {
                    nil
                }
                // A live server may remove a file between the listing and the check (a seal or compaction
                // finishing): that is not damage.
                if let finding, !finding.isDamage || fileSystem.exists(path) { findings.append(finding) }
            }
        }
        return findings
    }

    static func verifyFeedCursor(_ path: String, consumer: String, _ fileSystem: FileSystem) -> Finding {
        let cursor = (try? fileSystem.readAll(path)).flatMap(FeedCursor.decode)
        return Finding(path: path, message: cursor.map { "change-feed cursor of \(consumer) at \($0.position), \($0.lostEvents) events lost" }
                       ?? "checksum or layout mismatch", isDamage: cursor == nil)
    }

    static func verifyDedupFile(_ path: String, _ fileSystem: FileSystem) -> Finding {
        let ids = (try? fileSystem.readAll(path)).flatMap(DedupFile.decode)
        return Finding(path: path, message: ids.map { "\($0.count) ids" } ?? "checksum or layout mismatch", isDamage: ids == nil)
    }

    static func verifyLog(_ path: String, commitPoint: String, _ fileSystem: FileSystem) -> Finding {
        guard var bytes = try? fileSystem.readAll(path) else { return Finding(path: path, message: "unreadable", isDamage: true) }
        var note = ""
        if fileSystem.exists(commitPoint) {
            guard let length = (try? fileSystem.readAll(commitPoint)).flatMap(LogCommitPoint.decode) else {
                return Finding(path: commitPoint, message: "checksum or layout mismatch", isDamage: true)
            }
            if length < bytes.count { note = "; \(bytes.count - length) unacknowledged bytes past its commit point (ignored on recovery)" }
            bytes = Array(bytes.prefix(length))
        }
        var reader = LogReader(bytes: bytes, path: path)
        var records = 0, events = 0
        while let record = reader.next() {
            records += 1
            if record.count >= 5 {
                events += Int(record.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 1, as: UInt32.self)) })
            }
        }
        switch reader.end {
        case .corruption(let report)?:
            return Finding(path: path, message: "\(report.reason) at byte \(report.offset), after \(records) good records", isDamage: true)
        case .tornTail(let offset)?:
            return Finding(path: path, message: "\(records) records, \(events) events; incomplete last record at byte \(offset) (dropped on recovery)\(note)", isDamage: false)
        default:
            return Finding(path: path, message: "\(records) records, \(events) events\(note)", isDamage: false)
        }
    }

    static func verifySegment(_ path: String) -> Finding {
        do {
            let segment = try Segment(path: path)
            try segment.verify()
            return Finding(path: path, message: "\(segment.rowCount) rows, \(segment.blockCount) blocks", isDamage: false)
        } catch {
            return Finding(path: path, message: error.reason, isDamage: true)
        }
    }
}

/// Sizes and encodings of a store's segments (`clarm inspect`); read-only, like `StoreVerifier`.
public enum StoreInspector {
    public struct ColumnStats: Sendable {
        public var name: String
        public var encoding: SegmentFormat.Encoding
        public var width: Int
        public var dictionaryEntries = 0
        public var storedBytes = 0
        public var rawBytes = 0
    }

    public struct SegmentStats: Sendable {
        public var path: String
        public var rows: Int
        public var fileBytes: Int
        public var minTimestamp: Int64
        public var maxTimestamp: Int64
        public var walCovered: UInt64
        public var columns: [ColumnStats]
    }

    public static func inspect(directory: String, fileSystem: FileSystem = PosixFileSystem()) -> (segments: [SegmentStats], problems: [String]) {
        var segments: [SegmentStats] = []
        var problems: [String] = []
        for shard in ((try? fileSystem.list(directory)) ?? []).filter({ $0.hasPrefix("shard-") }) {
            for name in ((try? fileSystem.list("\(directory)/\(shard)")) ?? []) where name.hasSuffix(".cseg") {
                let path = "\(directory)/\(shard)/\(name)"
                do {
                    let segment = try Segment(path: path)
                    let columns = segment.columns.map { column in
                        var stats = ColumnStats(name: column.name, encoding: column.encoding, width: column.width,
                                                dictionaryEntries: column.dictionaryCount)
                        for ref in column.blocks + column.dictionaryBlocks.map(\.ref) {
                            stats.storedBytes += ref.storedLength
                            stats.rawBytes += ref.rawLength
                        }
                        return stats
                    }
                    segments.append(SegmentStats(path: path, rows: segment.rowCount, fileBytes: segment.fileSize,
                                                 minTimestamp: segment.minTimestamp, maxTimestamp: segment.maxTimestamp,
                                                 walCovered: segment.walCovered, columns: columns))
                } catch {
                    // A live server's compaction may have removed it since the listing: not damage.
                    if fileSystem.exists(path) { problems.append("\(error)") }
                }
            }
        }
        return (segments, problems)
    }
}
