import ArgumentParser
import ClarmGateway
import ClarmStorage
import Foundation
import Glibc

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store NDJSON events (one POST /api/track event object a line) straight into a data directory, checked as the gateway checks them; the directory must not be served meanwhile."
    )

    @Argument(help: "The NDJSON file; - reads standard input.")
    var file: String

    @Option(help: "Data directory.")
    var data = "./data"

    @Option(help: "Shards of a new data directory (default: cores); an existing one keeps its count.")
    var shards: Int?

    @Option(help: "Days before now an event's timestamp may be (older events are rejected; up to an hour ahead is accepted).")
    var maxEventAge = Gateway.defaultMaxEventAgeDays

    @Flag(help: "Store events whose user agent is a known crawler's, instead of dropping and counting them.")
    var keepBots = false

    @Option(help: "Rejected lines printed to standard error, at most (the count is always printed).")
    var showRejected = 20

    func validate() throws {
        if let shards, !(1...4096).contains(shards) { throw ValidationError("--shards must be 1...4096") }
        guard (1...Gateway.maxEventAgeLimit).contains(maxEventAge) else {
            throw ValidationError("--max-event-age must be 1...\(Gateway.maxEventAgeLimit) days")
        }
        guard showRejected >= 0 else { throw ValidationError("--show-rejected must be at least 0") }
    }

    func run() throws {
        let fd = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != STDIN_FILENO { close(fd) } }
        // The import is redone if it is cut short, so its log writes need no fsync; closing seals and syncs segments.
        var options = StoreOptions()
        options.durability = .os
        if let shards { options.shards = shards }
        let store = try Store(directory: data, options: options) { notice in
            FileHandle.standardError.write(Data("\(notice)\n".utf8))
        }
        defer { store.close() }
        let sites = try SiteRegistry.open(directory: data).snapshot().snapshot

        var shown = 0
        var importer = EventImport(store: store, sites: sites, maxEventAgeDays: maxEventAge, keepBots: keepBots) { [showRejected] line in
            if shown < showRejected { FileHandle.standardError.write(Data("rejected: \(line)\n".utf8)) }
            shown += 1
        }
        var reader = LineReader(fd: fd, maxLine: EventImport.maxLineBytes)
        let counts: EventImport.Counts
        do {
            try reader.forEach { line, truncated in try importer.add(line: line, truncated: truncated) }
            counts = try importer.finish()
        } catch {
            // Deduplication goes by event_id: what the operator must know before running the file again.
            let done = importer.counts
            FileHandle.standardError.write(Data(("import stopped after \(done.lines) lines (\(done.accepted) events accepted so far, some "
                + "possibly stored): \(error). Importing the file again stores its events without an event_id twice; import "
                + "the lines after \(done.lines) instead, or start from an empty data directory.\n").utf8))
            throw ExitCode.failure
        }
        print("\(counts.lines) lines: \(counts.accepted) events stored, \(counts.duplicates) duplicates, \(counts.bots) crawlers' events dropped, \(counts.rejected) rejected")
    }
}
