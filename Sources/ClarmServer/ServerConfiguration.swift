import ClarmSystem
import Glibc
import ClarmHTTP

/// How the server listens, how many loops it runs, and when it gives up on a connection.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port; `HTTPServer.port` tells which.
    public var port = 8080
    /// Event loops, each a thread with its own listening socket on the shared port (SO_REUSEPORT).
    public var eventLoops = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Connections beyond this are answered 503 and closed.
    public var maxConnections = 10_000
    public var backlog: Int32 = 1024
    /// Milliseconds a keep-alive connection may sit idle between requests.
    public var idleTimeout: Int64 = 60_000
    /// Milliseconds from a request's first byte until its head is complete (408 after).
    public var headerTimeout: Int64 = 10_000
    /// Milliseconds from the end of the head until the body is complete (408 after).
    public var bodyTimeout: Int64 = 30_000
    /// Milliseconds a client may leave a response unread before the connection is dropped.
    public var writeTimeout: Int64 = 30_000
    /// Milliseconds a shutdown waits for requests in flight before closing what remains.
    public var shutdownGrace: Int64 = 10_000
    public var limits = HTTPLimits()
    /// Connections one peer address may hold open; more are answered 503 and closed. 0: no cap.
    public var maxConnectionsPerAddress = 0
    /// Peers the per-address cap does not apply to: proxies in front, which carry many clients' connections.
    public var uncappedPeers = AddressRange.loopback

    public init() {}
}

