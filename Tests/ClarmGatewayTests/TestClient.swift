import Glibc
import ClarmEvents
import ClarmGateway
import ClarmGeoIP
import ClarmServer
import ClarmStorage
import ClarmTestSupport

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct TestResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking loopback client that speaks just enough HTTP/1.1 to read the gateway's responses.
/// Used from one thread at a time, or one sender thread plus one reader thread, as sockets allow.
final class TestClient: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to `address` (an IPv4 address as a number; loopback by default).
    init(port: Int, receiveTimeout: Int = 5, address ipv4: UInt32 = 0x7F00_0001) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = ipv4.bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            let error = errno
            close(fd)
            throw TestFailure("connect: \(String(cString: strerror(error)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            if errno == ECONNRESET { return false }
            throw TestFailure("recv: \(String(cString: strerror(errno)))")
        }
        buffer += chunk[0..<n]
        return n > 0
    }

    /// Reads one response; nil when the server closed the connection before sending one.
    func readResponse(toHead: Bool = false) throws -> TestResponse? {
        var headEnd: Int? = nil
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                headEnd = end
                break
            }
            if try !fill() {
                if buffer.isEmpty { return nil }
                throw TestFailure("connection closed inside a response head")
            }
        }
        let headText = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
            throw TestFailure("bad status line in \(headText)")
        }
        let headers = lines.map { line -> (String, String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " "))
        }
        buffer.removeFirst(headEnd! + 4)
        var response = TestResponse(status: status, headers: headers, body: [])
        if !toHead, let length = response.header("content-length").flatMap(Int.init) {
            while buffer.count < length {
                if try !fill() { throw TestFailure("connection closed inside a body") }
            }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        return response
    }

    /// Ends both directions, as a client that leaves does.
    func hangUp() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// True when the server closes the connection without sending more bytes.
    func isClosedByServer() throws -> Bool {
        buffer.isEmpty ? try !fill() && buffer.isEmpty : false
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// Tests post events of November 2026 whatever today's date, so their gateways take events of any age.
let historyMaxEventAgeDays = TrackDecoder.maxEventAgeLimit

/// Runs a gateway with a store in a fresh temporary directory on a free loopback port for the duration of `body`.
func withGateway(_ configure: (inout ServerConfiguration) -> Void = { _ in },
                 options: StoreOptions = StoreOptions(), access: GatewayAccess = GatewayAccess(),
                 gateway: GatewayOptions = GatewayOptions(), geoIP: GeoIPDatabase? = nil,
                 _ body: (_ port: Int, _ store: Store) throws -> Void) throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.eventLoops = 2
    configuration.shutdownGrace = 2_000
    configure(&configuration)
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    var options = options
    options.shards = 2
    // As `clarm serve` does: a commit round's responses reach each loop together.
    options.completionRound = { ResumptionBatch.collect($0) }
    let store = try Store(directory: directory.path, options: options)
    let runtime = GatewayRuntime(options: gateway, storage: store.metrics)
    let server = try HTTPServer(configuration: configuration) {
        Gateway(store: store, access: access, runtime: runtime).withMaxEventAge(days: historyMaxEventAgeDays).withGeoIP(geoIP)
    }
    runtime.countConnections { [server] in server.openConnections }
    defer {
        server.shutdown()
        server.waitUntilStopped()
        store.close()
    }
    try body(server.port, store)
}

extension Store {
    /// Events held, buffered or sealed.
    var count: Int { (try? allEvents().count) ?? -1 }
}

func trackRequest(_ body: String, extraHeaders: String = "", connection: String? = nil) -> String {
    let connectionHeader = connection.map { "Connection: \($0)\r\n" } ?? ""
    return "POST /api/track HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n\(connectionHeader)\(extraHeaders)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

let oneEvent = #"{"event":"page_view","visitor_id":"v1","session_id":"s1","url":"https://shop.example.com/a","timestamp":"2026-11-05T08:19:19.685Z"}"#
