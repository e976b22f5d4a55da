import CClarmLinux
import ClarmSystem
import Glibc

/// An HTTP/1.1 server of `ServerConfiguration.eventLoops` epoll loops, each on its own thread.
public final class HTTPServer: Sendable {
    /// The port the server listens on.
    public let port: Int
    let loops: [EventLoop]
    private let threads: [UInt]
    private let shared: ServerShared

    /// Binds and starts serving; each loop calls `makeHandler` once, on its own thread.
    public init(configuration: ServerConfiguration, makeHandler: @escaping @Sendable () -> HTTPHandler) throws(ServerError) {
        let shared = ServerShared(configuration: configuration, makeHandler: makeHandler)
        var loops: [EventLoop] = []
        var port = configuration.port
        do throws(ServerError) {
            for _ in 0..<max(1, configuration.eventLoops) {
                let listener = try Listener.open(host: configuration.host, port: port, backlog: configuration.backlog)
                // Later loops join the port the first one got, which matters when asked for port 0.
                port = listener.port
                do throws(ServerError) {
                    loops.append(try EventLoop(shared: shared, listenerFD: listener.fd))
                } catch {
                    closeDescriptor(listener.fd)
                    throw error
                }
            }
        } catch {
            // These loops never ran: nothing but their descriptors to release.
            for loop in loops { loop.closeDescriptors() }
            throw error
        }
        self.port = port
        self.shared = shared
        self.loops = loops
        self.threads = loops.map { loop in startThread { loop.run() } }
    }

    /// Client connections open now, across every loop.
    public var openConnections: Int { shared.connectionCount.load(ordering: .relaxed) }

    /// Stops accepting, lets requests in flight finish (up to the configured grace), then ends the loops.
    /// Safe to call from any thread, more than once.
    public func shutdown() {
        for loop in loops { loop.requestStop() }
    }

    /// Blocks until every loop has ended.
    public func waitUntilStopped() {
        for thread in threads { pthread_join(thread, nil) }
    }
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

private func startThread(_ run: @escaping @Sendable () -> Void) -> UInt {
    var thread = pthread_t()
    let body = Unmanaged.passRetained(ThreadBody(run))
    let status = pthread_create(&thread, nil, { argument in
        // The retained body was passed by `startThread`; this thread takes that reference over.
        Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
        return nil
    }, body.toOpaque())
    precondition(status == 0, "pthread_create failed: \(Errno(status))")
    return thread
}
