import ClarmSystem
import Glibc
import Testing
@testable import ClarmIntegrations

/// The transport's own checks, against a listening socket on loopback.
@Suite struct OutboundClientTests {
    /// A listening TCP socket on 127.0.0.1: its descriptor and port.
    func listener() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound && listen(fd, 8) == 0)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    func settings(allowPrivate: Bool, timeout: Double = 2) -> OutboundSettings {
        var options = IntegrationOptions()
        options.allowPrivateDestinations = allowPrivate
        options.requestTimeoutSeconds = timeout
        return OutboundSettings(options: options, authorities: nil)
    }

    /// The check is on the address connected to, not on a name looked up before: `localhost` (or any name
    /// that resolves to an internal address by then) never gets a connection.
    @Test func anInternalAddressIsRefusedAtTheConnection() throws {
        let (fd, port) = try listener()
        defer { close(fd) }
        let client = try OutboundClient(settings: settings(allowPrivate: false))
        for host in ["127.0.0.1", "localhost"] {
            #expect {
                _ = try client.post("http://\(host):\(port)/hook", headers: [], body: Array("{}".utf8))
            } throws: { error in
                "\(error)".contains("a loopback, private or link-local address")
            }
        }
        // Nothing reached the listener.
        #expect(accept(fd, nil, nil) == -1 && errno == EAGAIN)
    }

    /// Allowed, the same listener gets the connection; it never answers, so the whole-request timeout ends it.
    @Test func anAllowedAddressConnectsAndTheTimeoutEndsASilentReceiver() throws {
        let (fd, port) = try listener()
        defer { close(fd) }
        let client = try OutboundClient(settings: settings(allowPrivate: true, timeout: 0.5))
        #expect {
            _ = try client.post("http://127.0.0.1:\(port)/hook", headers: [], body: Array("{}".utf8))
        } throws: { error in
            "\(error)".contains("127.0.0.1:\(port)") && "\(error)".lowercased().contains("timed out")
        }
        let connection = accept(fd, nil, nil)
        #expect(connection >= 0)
        if connection >= 0 { close(connection) }
    }

    /// Connecting has its own, shorter timeout: a receiver whose accept queue is full never completes the handshake,
    /// and the request gives up after 5 s, not after the whole request's 30.
    @Test func connectingGivesUpBeforeTheWholeRequestTimeout() throws {
        let (fd, port) = try listener()
        defer { close(fd) }
        #expect(listen(fd, 0) == 0)
        // Fill the accept queue: the kernel then drops the next handshakes.
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            address.sin_port = UInt16(port).bigEndian
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            fillers.append(client)
        }
        usleep(200_000)
        let client = try OutboundClient(settings: settings(allowPrivate: true, timeout: 30))
        let start = monotonicMilliseconds()
        #expect {
            _ = try client.post("http://127.0.0.1:\(port)/hook", headers: [], body: Array("{}".utf8))
        } throws: { error in
            "\(error)".contains("Failed to connect") && "\(error)".contains("Timeout")
        }
        let elapsed = monotonicMilliseconds() - start
        #expect(elapsed >= 4_500 && elapsed < 15_000, "gave up after \(elapsed) ms")
    }

    @Test func onlyHTTPAndHTTPSAreSpoken() throws {
        let client = try OutboundClient(settings: settings(allowPrivate: true))
        // Refused by the protocol list itself (without it, ftp would be tried and fail to connect, and file read).
        for url in ["ftp://127.0.0.1:9/x", "file:///etc/passwd", "gopher://127.0.0.1:9/x"] {
            #expect { _ = try client.post(url, headers: [], body: []) } throws: { "\($0)".contains("not supported or disabled") }
        }
    }
}
