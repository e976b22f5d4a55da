import CCurl
import Glibc
import Synchronization

/// An answer from a destination: its status and the start of its body.
struct OutboundResponse: Sendable {
    let status: Int
    /// At most `OutboundClient.maxBody` bytes.
    let body: [UInt8]
    /// Seconds from a `Retry-After` header, when it holds a number.
    let retryAfter: Int?

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// How every request to a destination goes; one value shared by the clients of all workers.
struct OutboundSettings: Sendable {
    /// The whole request: connecting, TLS, sending and the answer.
    let timeoutMilliseconds: Int
    /// Connecting alone (TCP and TLS handshake), at most the whole request's.
    let connectTimeoutMilliseconds: Int
    let allowPrivate: Bool
    /// PEM certificates trusted besides the system's (`--destination-ca-file`), with the system's bundle before
    /// them; nil trusts the system's alone.
    let authorities: [UInt8]?

    static let connectTimeoutMilliseconds = 5_000

    init(options: IntegrationOptions, authorities: [UInt8]?) {
        timeoutMilliseconds = Int(options.requestTimeoutSeconds * 1000)
        connectTimeoutMilliseconds = min(Self.connectTimeoutMilliseconds, timeoutMilliseconds)
        allowPrivate = options.allowPrivateDestinations
        self.authorities = authorities
    }
}

/// Requests to destinations through one libcurl easy handle, used by one thread at a time (a delivery worker
/// keeps its own, so the connection to its receiver is reused). http and https only, no redirects followed (a
/// 3xx is the answer), no proxy from the environment, a connect timeout inside the whole request's timeout, at
/// most `maxBody` bytes of the answer read (the transfer stops past it), TLS verified against the system's
/// authorities and `--destination-ca-file`'s. The address checked against SSRF is the one each new connection
/// is opened to, so a name that resolves to a public address when added and to a private one later (DNS
/// rebinding) is refused at the connection itself.
final class OutboundClient: @unchecked Sendable {
    static let maxBody = 16 << 10
    static let maxRetryAfterSeconds = 86_400
    static let userAgent = "Clarm-Integrations/1"

    /// What the callbacks of one request fill in; reached through libcurl's `clientp` pointers.
    private final class Transfer {
        let allowPrivate: Bool
        var body: [UInt8] = []
        var truncated = false
        /// The internal address a connection was refused to, when it was.
        var refused: String?

        init(allowPrivate: Bool) { self.allowPrivate = allowPrivate }
    }

    private let settings: OutboundSettings
    /// The easy handle, only used while `inUse` is held (libcurl handles are not thread-safe).
    private let easy: UnsafeMutableRawPointer
    private let inUse = Mutex(())
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    /// libcurl's global state, set up once before the first handle (curl_global_init is not thread-safe, a
    /// static's initializer runs once). With `CURLOPT_NOSIGNAL` libcurl leaves SIGPIPE alone, and a receiver
    /// closing its TLS connection while a request is written would kill the process with it (OpenSSL writes
    /// with plain `write`): it is ignored process-wide, where nothing else in the gateway relies on it (its
    /// own sockets write with `MSG_NOSIGNAL`, and a failed write is an error either way).
    static let global: Void = {
        signal(SIGPIPE, SIG_IGN)
        _ = curl_global_init(Int(CURL_GLOBAL_ALL))
    }()

    /// Throws when libcurl lacks an option the transport relies on (`CURLOPT_PROTOCOLS_STR` needs 7.85, blobs
    /// 7.77): such a libcurl is refused at start rather than used without its guard.
    init(settings: OutboundSettings) throws(IntegrationError) {
        _ = Self.global
        self.settings = settings
        guard let easy = curl_easy_init() else { fatalError("libcurl cannot create a handle (out of memory)") }
        self.easy = easy
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        func set(_ name: String, _ code: CURLcode) throws(IntegrationError) {
            guard code == CURLE_OK else {
                throw .refused("libcurl \(String(cString: curl_version())) refuses \(name): \(String(cString: curl_easy_strerror(code)))")
            }
        }
        try set("CURLOPT_NOSIGNAL", clarm_curl_set_long(easy, CURLOPT_NOSIGNAL, 1))
        try set("CURLOPT_PROTOCOLS_STR", clarm_curl_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        try set("CURLOPT_FOLLOWLOCATION", clarm_curl_set_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        try set("CURLOPT_PROXY", clarm_curl_set_string(easy, CURLOPT_PROXY, ""))
        try set("CURLOPT_TIMEOUT_MS", clarm_curl_set_long(easy, CURLOPT_TIMEOUT_MS, settings.timeoutMilliseconds))
        try set("CURLOPT_CONNECTTIMEOUT_MS", clarm_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds))
        try set("CURLOPT_USERAGENT", clarm_curl_set_string(easy, CURLOPT_USERAGENT, Self.userAgent))
        try set("CURLOPT_ERRORBUFFER", clarm_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        try set("CURLOPT_WRITEFUNCTION", clarm_curl_set_write_function(easy, Self.receive))
        try set("CURLOPT_OPENSOCKETFUNCTION", clarm_curl_set_open_socket_function(easy, Self.openSocket))
        if let authorities = settings.authorities {
            let code = authorities.withUnsafeBytes { raw in
                var blob = curl_blob(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), len: raw.count, flags: UInt32(CURL_BLOB_COPY))
                return clarm_curl_set_blob(easy, CURLOPT_CAINFO_BLOB, &blob)
            }
            try set("CURLOPT_CAINFO_BLOB", code)
        }
    }

    deinit {
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }

    /// POSTs `body` and waits for the answer; throws a sentence when there is none (refused, timed out, a
    /// certificate not trusted, an internal address…).
    func post(_ url: String, headers: [(String, String)], body: [UInt8]) throws(IntegrationError) -> OutboundResponse {
        let transfer = Transfer(allowPrivate: settings.allowPrivate)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // No `Expect: 100-continue` round trip before a large body.
        for line in headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        let (code, status, retryAfter) = inUse.withLock { _ -> (CURLcode, Int, Int?) in
            errorBuffer[0] = 0
            clarm_curl_set_string(easy, CURLOPT_URL, url)
            clarm_curl_set_slist(easy, CURLOPT_HTTPHEADER, list)
            clarm_curl_set_pointer(easy, CURLOPT_WRITEDATA, context)
            clarm_curl_set_pointer(easy, CURLOPT_OPENSOCKETDATA, context)
            let code = body.withUnsafeBytes { raw -> CURLcode in
                clarm_curl_set_long(easy, CURLOPT_POSTFIELDSIZE, raw.count)
                // A pointer even for an empty body: a null one would make libcurl read the body from stdin.
                clarm_curl_set_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer)))
                return curl_easy_perform(easy)
            }
            var status = 0
            clarm_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
            var header: UnsafeMutablePointer<curl_header>? = nil
            let retryAfter = curl_easy_header(easy, "Retry-After", 0, UInt32(CURLH_HEADER), -1, &header) == CURLHE_OK
                ? header.flatMap { Int(String(cString: $0.pointee.value).filter { $0 != " " && $0 != "\t" }) } : nil
            return (code, status, retryAfter)
        }
        // Enough of the answer read: the status is known, the rest was not wanted.
        let complete = code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.truncated)
        guard complete, status > 0 else {
            let host = Self.host(of: url)
            if let address = transfer.refused {
                throw .refused("\(host) resolves to \(address), a loopback, private or link-local address; "
                               + "start the gateway with --allow-private-destinations to allow it")
            }
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            throw .refused("\(host): \(detail)")
        }
        // A receiver names any number: at most a day is honoured, so a hostile one cannot overflow the wait or park
        // the destination for ever.
        return OutboundResponse(status: status, body: transfer.body, retryAfter: retryAfter.map { min(max($0, 0), Self.maxRetryAfterSeconds) })
    }

    /// Keeps the first `maxBody` bytes; answering fewer bytes than given stops the transfer.
    private static let receive: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
        guard let data, let context else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let bytes = size * count
        let kept = min(bytes, maxBody - transfer.body.count)
        transfer.body += UnsafeRawBufferPointer(start: data, count: kept)
        if kept < bytes { transfer.truncated = true }
        return kept
    }

    /// Opens the socket of each new connection, unless its address is internal and that is not allowed.
    private static let openSocket: @convention(c) (UnsafeMutableRawPointer?, curlsocktype, UnsafeMutablePointer<curl_sockaddr>?) -> curl_socket_t = { context, _, address in
        guard let context, let address else { return CURL_SOCKET_BAD }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        // `addr` is declared as a sockaddr, but libcurl stores the whole address there (an IPv6 one is longer).
        let socketAddress = (UnsafeMutableRawPointer(address) + MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!)
            .assumingMemoryBound(to: sockaddr.self)
        if !transfer.allowPrivate && DestinationAddress.isInternal(socketAddress) {
            transfer.refused = DestinationAddress.text(socketAddress)
            return CURL_SOCKET_BAD
        }
        return socket(address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
    }

    /// The host of a URL the destination's parse accepted, for messages.
    static func host(of url: String) -> String {
        guard let start = url.range(of: "://")?.upperBound else { return url }
        return String(url[start...].prefix { $0 != "/" && $0 != "?" && $0 != "#" })
    }
}
