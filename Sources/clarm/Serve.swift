import Glibc
import ArgumentParser
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

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if let loops, loops < 1 { throw ValidationError("--loops must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard idleTimeout >= 1, headerTimeout >= 1, bodyTimeout >= 1 else { throw ValidationError("timeouts must be at least 1 second") }
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "clarm")

        guard mkdir(data, 0o755) == 0 || errno == EEXIST else {
            throw ValidationError("cannot create data directory \(data): \(String(cString: strerror(errno)))")
        }
        let store = MemoryEventStore()
        logger.warning("events are held in memory only in this version: a 202 does not yet mean they are on disk")

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
            server = try HTTPServer(configuration: configuration) { Gateway(store: store) }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        logger.info("listening on \(host):\(server.port) with \(configuration.eventLoops) event loops, data in \(data)")
        // The bound port on stdout alone, so scripts that ask for port 0 can read it.
        print("listening on \(host):\(server.port)")
        fflush(nil)

        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        logger.info("signal \(received): stopping; requests in flight are finished first")
        server.shutdown()
        server.waitUntilStopped()
        do {
            try store.flush()
        } catch {
            logger.critical("flush failed: \(error)")
            throw ExitCode.failure
        }
        logger.info("stopped")
    }
}
