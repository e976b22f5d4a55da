import Glibc
import ArgumentParser
import Foundation
import ClarmGateway
import ClarmServer
import ClarmStorage
import Logging

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: POST /api/track takes events; SIGINT or SIGTERM stops it gracefully."
    )

    @Option(help: "Address to listen on (numeric, or a name such as localhost).")
    var host = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free one and prints it.")
    var port = 8080

    @Option(help: "Data directory.")
    var data = "./data"

    @Option(help: "When a 202 is sent: after fsync (fsync, the default) or after write(2) only (os: survives a crash of Clarm, not of the machine).")
    var durability = "fsync"

    @Option(help: "Shards of a new data directory (default: cores); an existing one keeps its count.")
    var shards: Int?

    @Option(help: "A shard seals its buffered events into a segment at this many events…")
    var sealEvents = 250_000

    @Option(help: "…or after this many seconds.")
    var sealInterval = 60

    @Option(help: "Delete segments whose newest event is older than this many days.")
    var retentionDays: Int?

    @Option(name: .customLong("api-key"), help: "A key query clients must send as 'Authorization: Bearer KEY' (repeatable). Without one, queries are open.")
    var apiKeys: [String] = []

    @Option(help: "A file of API keys, one per line (blank lines and lines starting with # are skipped); adds to --api-key.")
    var apiKeyFile: String?

    @Option(help: "Event loops (threads); defaults to the number of cores.")
    var loops: Int?

    @Option(help: "Open connections beyond this are answered 503 and closed.")
    var maxConnections = 10_000

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout = 60

    @Option(help: "Seconds a client has to send a request head (408 after).")
    var headerTimeout = 10

    @Option(help: "Seconds a client has to send a request body after its head (408 after).")
    var bodyTimeout = 30

    @Option(help: "…or when its buffered events take this many bytes (K, M, G suffixes).")
    var sealBytes = ByteSize(bytes: 64 << 20)

    @Option(help: "Bytes of buffered events of all shards together; beyond it /api/track answers 503 (K, M, G suffixes).")
    var memoryLimit = ByteSize(bytes: 1 << 30)

    @Option(help: "Seconds an event_id is remembered for deduplication.")
    var dedupWindow = 3_600

    @Option(help: "At most this many event ids remembered per shard (about 28 bytes each); fewer shorten the window.")
    var dedupMaxIds = 2_000_000

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let loops, loops < 1 { throw ValidationError("--loops must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard Durability(rawValue: durability) != nil else { throw ValidationError("--durability must be fsync or os") }
        if let shards, !(1...4096).contains(shards) { throw ValidationError("--shards must be 1...4096") }
        guard sealEvents >= 1, sealInterval >= 1 else { throw ValidationError("--seal-events and --seal-interval must be at least 1") }
        if let retentionDays, retentionDays < 1 { throw ValidationError("--retention-days must be at least 1") }
        guard idleTimeout >= 1, headerTimeout >= 1, bodyTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 second") }
        guard sealBytes.bytes >= 1 << 20, memoryLimit.bytes >= 16 << 20 else { throw ValidationError("--seal-bytes must be at least 1M and --memory-limit at least 16M") }
        guard dedupWindow >= 1, dedupMaxIds >= 1 else { throw ValidationError("--dedup-window and --dedup-max-ids must be at least 1") }
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "clarm")

        var apiKeys = self.apiKeys
        if let apiKeyFile {
            guard let text = try? String(contentsOfFile: apiKeyFile, encoding: .utf8) else {
                throw ValidationError("cannot read --api-key-file \(apiKeyFile)")
            }
            apiKeys += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        var options = StoreOptions()
        options.durability = Durability(rawValue: durability)!
        if let shards { options.shards = shards }
        options.sealEvents = sealEvents
        options.sealInterval = Int64(sealInterval) * 1000
        options.retentionDays = retentionDays
        options.sealBytes = sealBytes.bytes
        options.memoryLimit = memoryLimit.bytes
        options.dedupWindow = Int64(dedupWindow)
        options.dedupMaxIDs = dedupMaxIds
        if options.durability == .os {
            logger.warning("--durability os: a 202 is sent after write(2) without fsync; acknowledged events survive a crash of clarm but can be lost if the machine loses power")
        }
        let store: Store
        do {
            store = try Store(directory: data, options: options) { notice in logger.warning("\(notice)") }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }

        // Block the stop signals before any thread starts, so every thread inherits the mask and only sigwait sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        if let loops { configuration.eventLoops = loops }
        configuration.maxConnections = maxConnections
        configuration.idleTimeout = Int64(idleTimeout) * 1000
        configuration.headerTimeout = Int64(headerTimeout) * 1000
        configuration.bodyTimeout = Int64(bodyTimeout) * 1000

        let server: HTTPServer
        do {
            server = try HTTPServer(configuration: configuration) { [apiKeys] in Gateway(store: store, apiKeys: apiKeys) }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        if apiKeys.isEmpty {
            logger.warning("no --api-key given: the query API answers anyone who can reach \(host):\(server.port); use keys unless it is loopback only")
        }
        logger.info("listening on \(host):\(server.port) with \(configuration.eventLoops) event loops; \(store.shardCount) shards in \(data), durability \(durability)")
        // The bound port on stdout alone, so scripts that ask for port 0 can read it.
        print("listening on \(host):\(server.port)")
        fflush(nil)

        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        logger.info("signal \(received): stopping; requests in flight are finished first")
        server.shutdown()
        server.waitUntilStopped()
        store.close()
        logger.info("stopped; buffered events are sealed into segments")
    }
}
