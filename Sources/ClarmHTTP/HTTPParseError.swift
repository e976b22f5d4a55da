/// Why a request could not be parsed; each maps to the status the server answers before closing.
public enum HTTPParseError: Error, Sendable, Equatable {
    case badMethod
    case badRequestTarget
    case badVersion
    case unsupportedVersion
    case badLineEnding
    case requestLineTooLong
    case headerSectionTooLarge
    case tooManyHeaderFields
    case badHeaderName
    case whitespaceBeforeColon
    case obsoleteLineFolding
    case badHeaderValue
    case missingHost
    case duplicateHost
    case badContentLength
    case duplicateContentLength
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding
    case transferEncodingInHTTP10
    case bodyTooLarge
    case badChunkSize
    case badChunkExtension
    case missingChunkTerminator
    case badTrailer
    case chunkFramingTooLarge
    case unsupportedExpectation

    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: .uriTooLong
        case .headerSectionTooLarge, .tooManyHeaderFields: .requestHeaderFieldsTooLarge
        case .bodyTooLarge, .chunkFramingTooLarge: .contentTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedExpectation: .expectationFailed
        default: .badRequest
        }
    }

    /// A sentence a client developer can act on.
    public var message: StaticString {
        switch self {
        case .badMethod: "malformed request line: the method must be a token followed by a single space"
        case .badRequestTarget: "malformed request target"
        case .badVersion: "malformed HTTP version in the request line"
        case .unsupportedVersion: "only HTTP/1.0 and HTTP/1.1 are supported"
        case .badLineEnding: "lines must end with CRLF"
        case .requestLineTooLong: "request line longer than 8 KiB"
        case .headerSectionTooLarge: "header section larger than 16 KiB"
        case .tooManyHeaderFields: "more than 100 header fields"
        case .badHeaderName: "malformed header field name"
        case .whitespaceBeforeColon: "whitespace between a header field name and its colon"
        case .obsoleteLineFolding: "obsolete line folding in a header field"
        case .badHeaderValue: "control character in a header field value"
        case .missingHost: "HTTP/1.1 request without a Host header"
        case .duplicateHost: "more than one Host header"
        case .badContentLength: "malformed Content-Length"
        case .duplicateContentLength: "more than one Content-Length"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding: "Transfer-Encoding must be exactly 'chunked'"
        case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 request"
        case .bodyTooLarge: "request body larger than 1 MiB"
        case .badChunkSize: "malformed chunk size"
        case .badChunkExtension: "malformed chunk extension"
        case .missingChunkTerminator: "chunk data not followed by CRLF"
        case .badTrailer: "malformed trailer field"
        case .chunkFramingTooLarge: "chunk framing (sizes, extensions, trailers) larger than 64 KiB"
        case .unsupportedExpectation: "only 'Expect: 100-continue' is supported"
        }
    }
}
