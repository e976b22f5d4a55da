import ClarmHTTP

/// Writes one response into a connection's output buffer: `start`, any `header`s, then `body` or `noBody`.
///
/// The writer adds `Date`, `Server`, `X-Content-Type-Options: nosniff` (every body is sent with the type it is, so
/// browsers must not guess another), `Content-Length` and, when the connection will close, `Connection: close`.
public struct HTTPResponseWriter: ~Copyable {
    var output: [UInt8]
    let keepAlive: Bool
    let omitBody: Bool
    let minorVersion: Int
    let date: [UInt8]
    /// Where a suspended response is to be delivered; nil where suspending is not allowed.
    let pending: PendingResponse?
    private(set) var state = State.idle
    /// The status written by `start`.
    public private(set) var status: HTTPStatus? = nil
    /// The handler's tag for this response (say, its route), handed back by `HTTPHandler.finished`.
    public var label: UInt8 = 0
    /// The watch of the suspended response, which the connection closes if it goes first.
    private(set) var watch: ConnectionWatch? = nil

    enum State { case idle, headers, done, suspended }

    init(output: consuming [UInt8], keepAlive: Bool, omitBody: Bool, minorVersion: Int, date: [UInt8],
         pending: PendingResponse? = nil) {
        self.output = output
        self.keepAlive = keepAlive
        self.omitBody = omitBody
        self.minorVersion = minorVersion
        self.date = date
        self.pending = pending
    }

    public var isComplete: Bool { state == .done }

    /// Promises the response for later: the handler writes nothing now and calls `resume` on the returned
    /// value, from any thread, exactly once. The connection answers nothing else meanwhile.
    public mutating func suspend() -> PendingResponse {
        precondition(state == .idle, "a response was already started")
        guard let pending else { preconditionFailure("this response cannot be suspended") }
        state = .suspended
        let watch = ConnectionWatch()
        self.watch = watch
        return PendingResponse(loop: pending.loop, fd: pending.fd, serial: pending.serial, watch: watch)
    }

    /// Gives the output buffer back to the connection.
    consuming func finish() -> [UInt8] {
        output
    }

    /// Writes the status line and the headers every response carries.
    public mutating func start(_ status: HTTPStatus) {
        precondition(state == .idle, "a response was already started")
        state = .headers
        self.status = status
        Self.appendStatusLine(status, to: &output)
        output.append(contentsOf: date)
        append("Server: clarm\r\nX-Content-Type-Options: nosniff\r\n")
    }

    public mutating func header(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        precondition(state == .headers, "header written outside a response head")
        append(name)
        append(": ")
        output.append(contentsOf: value)
        append("\r\n")
    }

    public mutating func header(_ name: StaticString, _ value: StaticString) {
        value.withUTF8Buffer { header(name, UnsafeRawBufferPointer($0)) }
    }

    public mutating func header(_ name: StaticString, _ value: Int) {
        precondition(state == .headers, "header written outside a response head")
        append(name)
        append(": ")
        Self.appendDecimal(value, to: &output)
        append("\r\n")
    }

    /// Ends the head with `Content-Length` and writes the body (left out for HEAD requests).
    public mutating func body(_ bytes: UnsafeRawBufferPointer, contentType: StaticString) {
        header("Content-Type", contentType)
        header("Content-Length", bytes.count)
        endHead()
        if !omitBody { output.append(contentsOf: bytes) }
    }

    /// Ends the head of a response that has no body and no Content-Length (204, 304).
    public mutating func noBody() {
        precondition(state == .headers, "noBody outside a response head")
        endHead()
    }

    private mutating func endHead() {
        if !keepAlive {
            append("Connection: close\r\n")
        } else if minorVersion == 0 {
            append("Connection: keep-alive\r\n")
        }
        append("\r\n")
        state = .done
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { output.append(contentsOf: $0) }
    }

    static func appendStatusLine(_ status: HTTPStatus, to output: inout [UInt8]) {
        ("HTTP/1.1 " as StaticString).withUTF8Buffer { output.append(contentsOf: $0) }
        appendDecimal(status.code, to: &output)
        output.append(0x20)
        status.reasonPhrase.withUTF8Buffer { output.append(contentsOf: $0) }
        output.append(0x0D)
        output.append(0x0A)
    }

    static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        precondition(value >= 0)
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(UInt8(rest / divisor) + 0x30)
            rest %= divisor
            divisor /= 10
        }
    }
}
