import Glibc
import ArgumentParser
import CClarmLinux
import ClarmClickHouse
import Foundation
import ClarmGateway
import ClarmServer
import ClarmStorage
import ClarmSystem
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

    @Option(help: "Open connections beyond this are answered 503 and closed (default: 10000, or what the descriptor limit leaves after a reserve for storage).")
    var maxConnections: Int?

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout = 60

    @Option(help: "Seconds a client has to send a request head (408 after).")
    var headerTimeout = 10

    @Option(help: "Seconds a client has to send a request body after its head (408 after).")
    var bodyTimeout = 30

    @Option(help: "A MaxMind-format database (GeoLite2 or DB-IP Lite, City or Country .mmdb): each tracking request's client is located in it and the country, region and city stored with its events (the address never is).")
    var geoip: String?

    @Option(name: .customLong("trusted-proxy"), help: "A proxy in front (CIDR, such as 10.0.0.0/8, or one address) whose X-Forwarded-For is believed; repeatable. Loopback always is.")
    var trustedProxies: [String] = []

    @Option(help: "Requests a second one client address may send (a token bucket); 0: no limit. Loopback clients without X-Forwarded-For are never limited.")
    var rateLimitPerIp = 50

    @Option(help: "Requests one client address may send at once before --rate-limit-per-ip applies.")
    var rateLimitBurst = 200

    @Option(help: "Connections one peer address may hold open (trusted proxies and loopback excepted); 0: no cap.")
    var maxConnectionsPerIp = 256

    @Option(help: "Days before now an event's timestamp may be (older events are rejected; up to an hour ahead is accepted).")
    var maxEventAge = Gateway.defaultMaxEventAgeDays

    @Option(name: .customLong("public-host"), help: "A name the query API and the dashboard answer to besides the listen address and localhost (repeatable); other Host names get 421.")
    var publicHosts: [String] = []

    @Option(name: .customLong("dashboard-origin"), help: "An origin (https://host[:port]) whose pages may read the query API cross-origin (repeatable).")
    var dashboardOrigins: [String] = []

    @Flag(help: "Store events whose user agent is a known crawler's, instead of dropping and counting them.")
    var keepBots = false

    @Option(help: "Queries running at once (default: cores).")
    var queryConcurrency: Int?

    @Option(help: "Queries waiting for a thread; beyond this, 503.")
    var queryQueue = 16

    @Option(help: "Seconds a query may take, waiting included (504 after).")
    var queryTimeout = 30

    @Option(help: "Events one query may hold in memory (64 bytes each; the strings it meets count per 64 bytes; 422 beyond).")
    var queryMaxRows = 10_000_000

    @Option(help: "…or when its buffered events take this many bytes (K, M, G suffixes).")
    var sealBytes = ByteSize(bytes: 64 << 20)

    @Option(help: "Bytes of buffered events of all shards together; beyond it /api/track answers 503 (K, M, G suffixes).")
    var memoryLimit = ByteSize(bytes: 1 << 30)

    @Option(help: "Seconds an event_id is remembered for deduplication.")
    var dedupWindow = 3_600

    @Option(help: "At most this many event ids remembered per shard (about 28 bytes each); fewer shorten the window.")
    var dedupMaxIds = 2_000_000

    @Option(help: "Bytes of sealed logs a shard keeps for destinations behind on delivery; past it the oldest go and their events count as lost (K, M, G suffixes).")
    var feedRetentionBytes = ByteSize(bytes: 4 << 30)

    @Flag(help: "Let destinations be loopback, private or link-local addresses (refused otherwise, against SSRF).")
    var allowPrivateDestinations = false

    @Option(help: "Seconds a request to a destination may take, connecting and answering included (connecting alone: at most 5).")
    var destinationTimeout = 15.0

    @Option(help: "A PEM file of certificate authorities trusted for https:// destinations in addition to the system's (a private CA, a self-signed receiver).")
    var destinationCaFile: String?

    @Option(help: "Seconds between retries of a failed delivery, comma-separated (default: the Standard Webhooks schedule, 5,300,1800,7200,18000,36000,… about three days).")
    var destinationRetryDelays: String?
    @Option(name: .customLong("clickhouse"), help: "Ship every acknowledged event to this ClickHouse server's HTTP interface, http://HOST:PORT (docs/SCALE.md). With --clickhouse-cluster, give it once per shard's server, as to init: rows go through the first, erasures reach them all.")
    var clickhouseURLs: [String] = []

    /// The server inserts and queries go to.
    var clickhouseURL: String? { clickhouseURLs.first }

    @OptionGroup(title: "ClickHouse") var clickhouse: ClickHouse.Connection

    @Option(help: "Events per insert into ClickHouse (per shard).")
    var clickhouseBatchEvents = 10_000

    @Option(help: "Milliseconds a batch that is not full waits for more events before it is sent.")
    var clickhouseIntervalMs = 1_000

    @Option(help: "What answers POST /api/query: embedded (this gateway's store) or clickhouse (SQL on --clickhouse).")
    var queryEngine = "embedded"

    @Option(help: "Memory one SQL query may take on a ClickHouse server (its max_memory_usage; 422 beyond; K, M, G suffixes).")
    var clickhouseQueryMemory = ByteSize(bytes: 1 << 30)

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let loops, loops < 1 { throw ValidationError("--loops must be at least 1") }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        guard Durability(rawValue: durability) != nil else { throw ValidationError("--durability must be fsync or os") }
        if let shards, !(1...4096).contains(shards) { throw ValidationError("--shards must be 1...4096") }
        guard sealEvents >= 1, sealInterval >= 1 else { throw ValidationError("--seal-events and --seal-interval must be at least 1") }
        if let retentionDays, retentionDays < 1 { throw ValidationError("--retention-days must be at least 1") }
        guard idleTimeout >= 1, headerTimeout >= 1, bodyTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 second") }
        for proxy in trustedProxies where AddressRange(proxy) == nil {
            throw ValidationError("--trusted-proxy \(proxy) is not an address or CIDR block such as 10.0.0.0/8 or 2001:db8::/32")
        }
        guard (0...1_000_000).contains(rateLimitPerIp), (1...1_000_000).contains(rateLimitBurst) else {
            throw ValidationError("--rate-limit-per-ip must be 0...1000000 and --rate-limit-burst 1...1000000")
        }
        guard maxConnectionsPerIp >= 0 else { throw ValidationError("--max-connections-per-ip must be at least 0") }
        guard (1...Gateway.maxEventAgeLimit).contains(maxEventAge) else {
            throw ValidationError("--max-event-age must be 1...\(Gateway.maxEventAgeLimit) days")
        }
        try validateExposure()
        if let queryConcurrency, !(1...1024).contains(queryConcurrency) { throw ValidationError("--query-concurrency must be 1...1024") }
        guard (0...10_000).contains(queryQueue) else { throw ValidationError("--query-queue must be 0...10000") }
        guard (1...86_400).contains(queryTimeout) else { throw ValidationError("--query-timeout must be 1...86400 seconds") }
        guard queryMaxRows >= 1 else { throw ValidationError("--query-max-rows must be at least 1") }
        guard sealBytes.bytes >= 1 << 20, memoryLimit.bytes >= 16 << 20 else { throw ValidationError("--seal-bytes must be at least 1M and --memory-limit at least 16M") }
        guard dedupWindow >= 1, dedupMaxIds >= 1 else { throw ValidationError("--dedup-window and --dedup-max-ids must be at least 1") }
        guard (0.1...300).contains(destinationTimeout) else { throw ValidationError("--destination-timeout must be 0.1...300 seconds") }
        guard feedRetentionBytes.bytes >= 1 << 20 else { throw ValidationError("--feed-retention-bytes must be at least 1M") }
        if let destinationRetryDelays, destinationRetryDelays.split(separator: ",").contains(where: { Double($0).map { !($0 >= 0 && $0 <= 86_400) } ?? true }) {
            throw ValidationError("--destination-retry-delays must be comma-separated seconds, each 0...86400")
        }
        try validateShipping()
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "clarm")
        // Memtable chunks (1 MiB), the copies seals and compactions encode from and segment images are mapped
        // on their own and unmapped when freed: otherwise glibc's arenas keep them after a seal, and the heap
        // stays at its peak (docs/BENCHMARKS.md, "Ingest": 324 MiB at rest after a minute of ingest, 89 MiB with it).
        if clarm_pin_mmap_threshold(1 << 20) != 1 { logger.warning("cannot set glibc's mmap threshold; freed seal buffers stay in the heap") }
        let descriptorLimit = raiseDescriptorLimit(logger)

        var apiKeys = self.apiKeys
        if let apiKeyFile {
            guard let text = try? String(contentsOfFile: apiKeyFile, encoding: .utf8) else {
                throw ValidationError("cannot read --api-key-file \(apiKeyFile)")
            }
            apiKeys += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        try Self.validateKeys(apiKeys)
        let geoIP = try openGeoIP(logger)
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
        options.feedRetentionBytes = feedRetentionBytes.bytes
        options.completionRound = { ResumptionBatch.collect($0) }
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

        let sites: SiteRegistry
        do {
            sites = try SiteRegistry.open(directory: data)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        let registered = sites.snapshot().snapshot.entries.count
        if registered == 0 {
            logger.warning("no site is registered: events of every site are accepted; register sites (clarm sites add, POST /api/sites) to accept only theirs")
        } else {
            logger.info("\(registered) registered sites: events of other sites are rejected")
        }
        let trusted = trustedProxies.compactMap(AddressRange.init)
        let traffic = TrafficPolicy(
            sites: sites, clients: ClientAddressRule(trustedProxies: trusted),
            requestsPerAddress: rateLimitPerIp > 0 ? AddressRateLimiter(rate: rateLimitPerIp, burst: rateLimitBurst) : nil)

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
        do {
            let budget = try DescriptorBudget(limit: descriptorLimit, shards: store.shardCount, loops: configuration.eventLoops,
                                              requested: maxConnections)
            if budget.lowered {
                logger.warning("--max-connections \(maxConnections!) does not fit the descriptor limit: lowered to \(budget.maxConnections)")
            }
            logger.info("\(budget)")
            configuration.maxConnections = budget.maxConnections
        } catch {
            logger.critical("\(error)")
            store.close()
            throw ExitCode.failure
        }
        configuration.idleTimeout = Int64(idleTimeout) * 1000
        configuration.headerTimeout = Int64(headerTimeout) * 1000
        configuration.bodyTimeout = Int64(bodyTimeout) * 1000
        configuration.maxConnectionsPerAddress = maxConnectionsPerIp
        configuration.uncappedPeers = traffic.clients.trustedProxies

        var gatewayOptions = GatewayOptions()
        gatewayOptions.keepBots = keepBots
        if let queryConcurrency { gatewayOptions.queryConcurrency = queryConcurrency }
        gatewayOptions.queryQueue = queryQueue
        gatewayOptions.queryTimeoutMilliseconds = Int64(queryTimeout) * 1000
        gatewayOptions.queryMaxRows = queryMaxRows
        let runtime = GatewayRuntime(options: gatewayOptions, storage: store.metrics)
        let integrations = try startIntegrations(store: store, logger)
        let shipper: ClickHouseShipper?
        do {
            shipper = try startShipping(store, runtime: runtime, logger: logger)
            try answerQueriesFromClickHouse(runtime)
        } catch {
            logger.critical("cannot ship to ClickHouse: \(error)")
            store.close()
            throw ExitCode.failure
        }

        let server: HTTPServer
        do {
            let access = try gatewayAccess(apiKeys: apiKeys, logger)
            server = try HTTPServer(configuration: configuration) { [maxEventAge] in
                Gateway(store: store, access: access, traffic: traffic, runtime: runtime).withMaxEventAge(days: maxEventAge)
                    .withIntegrations(integrations).withGeoIP(geoIP)
            }
        } catch {
            logger.critical("\(error)")
            store.close()
            throw ExitCode.failure
        }
        runtime.countConnections { [server] in server.openConnections }
        logger.info("listening on \(host):\(server.port) with \(configuration.eventLoops) event loops; \(store.shardCount) shards in \(data), durability \(durability)")
        // The bound port on stdout alone, so scripts that ask for port 0 can read it.
        print("listening on \(host):\(server.port)")
        fflush(nil)

        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        logger.info("signal \(received): stopping; requests in flight are finished first")
        server.shutdown()
        server.waitUntilStopped()
        integrations.stop()
        shipper?.stop()
        store.close()
        logger.info("stopped; buffered events are sealed into segments")
    }
}
