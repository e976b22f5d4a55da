import ClarmHTTP
import ClarmSystem
import Glibc

/// Why a request failed before an answer came.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A small blocking HTTP/1.1 client: one request per connection (`Connection: close`), plain `http://` only,
/// bounded timeouts and answer sizes. The command line talks to a running gateway with it, and the
/// ClickHouse shipper to ClickHouse's HTTP interface. Its errors name the host and port, never a header's
/// value, so credentials sent in headers stay out of logs.
public struct BlockingHTTPClient: Sendable {
    public let host: String
    public let port: Int
    /// Seconds each connect, send and receive may wait.
    public var timeoutSeconds = 10
    /// The largest answer read (head and body); a larger one is an error, not a buffer that grows.
    public var maxResponse = 16 << 20

    /// `http://host[:port]` with nothing after it but an optional `/`; IPv6 hosts in brackets. `option`
    /// names the flag the URL came from, for the error.
    public init(url: String, option: String = "--url") throws(HTTPClientError) {
        guard url.hasPrefix("http://") else {
            throw HTTPClientError("\(option) must be http://HOST[:PORT], such as http://127.0.0.1:8080")
        }
        var authority = Substring(url.dropFirst(7))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        var host = authority
        var port = 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if rest.hasPrefix(":") { port = Int(rest.dropFirst()) ?? -1 } else if !rest.isEmpty { port = -1 }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@"), (1...65535).contains(port) else {
            throw HTTPClientError("\(option) must be http://HOST[:PORT], not \(url)")
        }
        self.host = String(host)
        self.port = port
    }

    /// Sends one request and returns the status and body of the answer (de-chunked when chunked).
    public func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                     contentType: String = "application/json") throws(HTTPClientError) -> (status: Int, body: [UInt8]) {
        let fd = try connect()
        defer { closeDescriptor(fd) }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        request += "\r\n"
        try write(fd, Array(request.utf8))
        if let body { try write(fd, body) }
        return try parse(try readAll(fd))
    }

    private func connect() throws(HTTPClientError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, result != nil else {
            throw HTTPClientError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var lastError = Errno(ECONNREFUSED)
        var info = result
        while let current = info {
            info = current.pointee.ai_next
            let fd: Int32
            do {
                fd = try retryingOnInterrupt { socket(current.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0) }
            } catch {
                lastError = error
                continue
            }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            do {
                _ = try retryingOnInterrupt { Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) }
                return fd
            } catch {
                lastError = error
                closeDescriptor(fd)
            }
        }
        throw HTTPClientError("cannot connect to \(host):\(port): \(lastError)")
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) throws(HTTPClientError) {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try bytes.withUnsafeBytes { raw in
                    Result { () throws(Errno) in
                        try retryingOnInterrupt { Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
                    }
                }.get()
            } catch {
                throw HTTPClientError("sending to \(host):\(port) failed: \(error)")
            }
        }
    }

    private func readAll(_ fd: Int32) throws(HTTPClientError) -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { raw in
                    Result { () throws(Errno) in try retryingOnInterrupt { Glibc.read(fd, raw.baseAddress, raw.count) } }
                }.get()
            } catch {
                throw HTTPClientError("no answer from \(host):\(port): \(error)")
            }
            if n == 0 { return received }
            received += chunk[0..<n]
            guard received.count <= maxResponse else { throw HTTPClientError("the answer of \(host):\(port) is larger than \(maxResponse) bytes") }
        }
    }

    /// Status and body of a complete response read to the end of the connection.
    public func parse(_ bytes: [UInt8]) throws(HTTPClientError) -> (status: Int, body: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let headEnd = (0...(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) }) else {
            throw HTTPClientError("the answer is not an HTTP response")
        }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw HTTPClientError("the answer is not an HTTP response")
        }
        var body = Array(bytes[(headEnd + 4)...])
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased()
            let value = parts[1].trimmingPrefix(" ").lowercased()
            if name == "content-length", let length = Int(value), length <= body.count {
                body = Array(body[..<length])
            } else if name == "transfer-encoding", value == "chunked" {
                body = try Self.dechunk(body, limit: maxResponse)
            }
        }
        return (status, body)
    }

    private static func dechunk(_ body: [UInt8], limit: Int) throws(HTTPClientError) -> [UInt8] {
        var buffer = body
        var limits = HTTPLimits()
        limits.maxBody = limit
        limits.maxChunkFraming = limit
        var decoder = HTTPChunkedDecoder(limits: limits)
        let result = buffer.withUnsafeMutableBytes { decoder.decode($0) }
        guard case .complete = result else { throw HTTPClientError("the answer's chunked body is cut short or malformed") }
        return Array(buffer[..<decoder.decodedCount])
    }
}
