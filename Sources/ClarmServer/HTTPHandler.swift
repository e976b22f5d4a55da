import ClarmHTTP
import Synchronization

/// Answers requests on one event loop. Each loop makes its own handler, so a handler may keep
/// reusable buffers without locks; it must not block.
public protocol HTTPHandler: AnyObject {
    /// Writes exactly one response for `request` into `response`, or suspends it and delivers it later
    /// through `HTTPResponseWriter.suspend`. The request's bytes are valid only during the call.
    func handle(_ request: HTTPRequest, _ response: inout HTTPResponseWriter)

    /// Writes the response for an error the server found itself (malformed request, timeout, overload);
    /// the connection closes after it.
    func respondToError(_ status: HTTPStatus, message: StaticString, _ response: inout HTTPResponseWriter)

    /// Called on the loop's thread once a response's head is written (suspended ones when resumed), with the
    /// `HTTPResponseWriter.label` the handler gave it (0 for the server's own error responses): for accounting.
    func finished(_ status: HTTPStatus, label: UInt8)
}

extension HTTPHandler {
    public func finished(_ status: HTTPStatus, label: UInt8) {}
}

/// A complete request, borrowed from the connection's buffer for the duration of `HTTPHandler.handle`.
public struct HTTPRequest {
    public let head: HTTPRequestHead
    /// The request from its first byte; `head`'s ranges index into it.
    public let bytes: UnsafeRawBufferPointer
    /// The body, with any chunked framing removed.
    public let body: UnsafeRawBufferPointer
    /// The address of the connection's other end (a proxy's, when there is one in front).
    public let peer: IPAddress

    public init(head: HTTPRequestHead, bytes: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                peer: IPAddress = .unspecified) {
        self.head = head
        self.bytes = bytes
        self.body = body
        self.peer = peer
    }

    public var method: HTTPMethod { head.method }

    public var path: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[head.path]) }

    public var query: UnsafeRawBufferPointer? {
        head.query.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
    }

    /// The first value of a header, by lowercase name.
    public func header(_ lowercaseName: StaticString) -> UnsafeRawBufferPointer? {
        head.firstValue(of: lowercaseName, in: bytes).map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
    }

    /// Calls `body` with the value of every header named `lowercaseName`, the last received first, until it returns false.
    public func forEachValueLastFirst(of lowercaseName: StaticString, _ body: (UnsafeRawBufferPointer) -> Bool) {
        for field in head.headers.reversed() where HTTPRequestHead.nameEquals(field.name, lowercaseName, in: bytes) {
            if !body(UnsafeRawBufferPointer(rebasing: bytes[field.value])) { return }
        }
    }

    /// Whether the path is exactly `literal`.
    public func pathIs(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { $0.elementsEqual(path) }
    }
}

/// A suspended response: which loop and connection it belongs to. A connection closed meanwhile is
/// recognised by its serial number, so a late response never reaches a newer connection on the same descriptor.
public struct PendingResponse: Sendable {
    let loop: EventLoop
    let fd: Int32
    let serial: UInt64
    /// Set when the connection closes before the response is delivered; made by `suspend`.
    let watch: ConnectionWatch?

    /// Whether the client has gone: work for this response may stop, no one will read it. Any thread.
    public var isConnectionClosed: Bool { watch?.isClosed ?? false }

    /// Delivers the response: `write` runs on the connection's loop with a writer for it, unless the
    /// connection has closed meanwhile. Call exactly once, from any thread; inside `ResumptionBatch.collect`
    /// it is delivered when the batch ends.
    public func resume(_ write: @escaping @Sendable (inout HTTPResponseWriter) -> Void) {
        let resumption = EventLoop.Resumption(pending: self, write: write)
        if let batch = ResumptionBatch.current {
            batch.add(loop, resumption)
        } else {
            loop.resume([resumption])
        }
    }
}

/// Tells the thread preparing a suspended response that its connection has closed.
final class ConnectionWatch: Sendable {
    private let closed = Atomic<Bool>(false)

    var isClosed: Bool { closed.load(ordering: .relaxed) }

    func close() { closed.store(true, ordering: .relaxed) }
}
