/// Size limits a parser enforces; exceeding one yields 414, 431 or 413.
public struct HTTPLimits: Sendable {
    /// Bytes of the request line, without its CRLF.
    public var maxRequestLine: Int = 8 * 1024
    /// Bytes of the header section after the request line, including the final CRLF.
    public var maxHeaderSection: Int = 16 * 1024
    public var maxHeaderFields: Int = 100
    /// Bytes of the (decoded) request body.
    public var maxBody: Int = 1024 * 1024
    /// Bytes of chunked framing: size lines, extensions, CRLFs and trailers.
    public var maxChunkFraming: Int = 64 * 1024

    public init() {}
}
