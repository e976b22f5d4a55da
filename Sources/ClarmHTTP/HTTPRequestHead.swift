/// Request methods the server tells apart; anything else is `.other` and keeps its bytes in `methodRange`.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, options, patch, connect, trace, other

    init(_ bytes: UnsafeRawBufferPointer) {
        func equals(_ literal: StaticString) -> Bool {
            literal.utf8CodeUnitCount == bytes.count
                && literal.withUTF8Buffer { $0.elementsEqual(bytes) }
        }
        switch bytes.count {
        case 3: self = equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: self = equals("POST") ? .post : equals("HEAD") ? .head : .other
        case 5: self = equals("PATCH") ? .patch : equals("TRACE") ? .trace : .other
        case 6: self = equals("DELETE") ? .delete : .other
        case 7: self = equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: self = .other
        }
    }
}

/// How the body of a request is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// A header field as two ranges of byte offsets from the request's first byte.
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: Range<Int>
    public var value: Range<Int>
}

/// A parsed request head. Every range is a byte offset from the request's first byte, so the head
/// stays valid when the buffer holding the request moves.
public struct HTTPRequestHead: Sendable {
    public internal(set) var method: HTTPMethod = .other
    public internal(set) var methodRange: Range<Int> = 0..<0
    /// The request target as sent.
    public internal(set) var target: Range<Int> = 0..<0
    /// The path of the target: origin-form up to `?`; the path part of an absolute-form target; `*`.
    public internal(set) var path: Range<Int> = 0..<0
    /// The query after `?`, without the `?`; nil when the target has none.
    public internal(set) var query: Range<Int>? = nil
    public internal(set) var minorVersion: Int = 1
    /// Header fields in the order received; values without surrounding whitespace.
    public internal(set) var headers: [HTTPHeaderField] = []
    public internal(set) var framing: HTTPBodyFraming = .none
    /// Whether the connection may carry another request after this one.
    public internal(set) var keepAlive: Bool = true
    /// The client waits for `100 Continue` before sending the body.
    public internal(set) var expectsContinue: Bool = false
    /// Bytes of the head, including leading empty lines and the blank line that ends it.
    public internal(set) var length: Int = 0

    public init() {
        headers.reserveCapacity(32)
    }

    mutating func reset() {
        method = .other
        methodRange = 0..<0
        target = 0..<0
        path = 0..<0
        query = nil
        minorVersion = 1
        headers.removeAll(keepingCapacity: true)
        framing = .none
        keepAlive = true
        expectsContinue = false
        length = 0
    }

    /// The value of the first field named `lowercaseName` (which must be lowercase ASCII), or nil.
    public func firstValue(of lowercaseName: StaticString, in request: UnsafeRawBufferPointer) -> Range<Int>? {
        for field in headers where Self.nameEquals(field.name, lowercaseName, in: request) {
            return field.value
        }
        return nil
    }

    /// Whether the field name at `name` is `lowercaseName`, ignoring ASCII case.
    public static func nameEquals(_ name: Range<Int>, _ lowercaseName: StaticString, in request: UnsafeRawBufferPointer) -> Bool {
        guard name.count == lowercaseName.utf8CodeUnitCount else { return false }
        return lowercaseName.withUTF8Buffer { literal in
            var i = 0
            while i < literal.count {
                if ByteClass.lowercased(request[name.lowerBound + i]) != literal[i] { return false }
                i += 1
            }
            return true
        }
    }
}
