private let cr: UInt8 = 0x0D
private let lf: UInt8 = 0x0A

/// A resumable decoder of a chunked body (RFC 9112 §7.1) that works in place and allocates nothing.
///
/// Give it the buffer from the body's first byte; each call decodes what has arrived and moves chunk
/// data down so that `buffer[0..<decodedCount]` is the body so far. Trailer fields are checked and dropped.
public struct HTTPChunkedDecoder: Sendable {
    public let limits: HTTPLimits
    /// Bytes of body decoded so far, contiguous from the start of the buffer.
    public private(set) var decodedCount = 0

    private enum State {
        case size, sizeWhitespace, sizeExtension, sizeLF
        case data, dataCR, dataLF
        case trailerStart, trailerName, trailerValue, trailerLF
        case endLF
    }

    private var state = State.size
    private var scanned = 0
    private var sizeDigits = 0
    private var chunkSize = 0
    private var remaining = 0

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    public mutating func reset() {
        decodedCount = 0
        state = .size
        scanned = 0
        sizeDigits = 0
        chunkSize = 0
        remaining = 0
    }

    /// Decodes the bytes of `buffer` not seen before (the decoded prefix must be left as it was);
    /// returns `.complete(wireLength)` once the last chunk and trailers are in, `.partial`, or `.failure`.
    public mutating func decode(_ buffer: UnsafeMutableRawBufferPointer) -> HTTPParseResult {
        let n = buffer.count
        var p = scanned
        defer { scanned = p }
        while p < n {
            // Everything scanned that is not body is framing; bound it so tiny chunks cannot pin memory.
            if p - decodedCount > limits.maxChunkFraming { return .failure(.chunkFramingTooLarge) }
            let c = buffer[p]
            switch state {
            case .size:
                if let digit = ByteClass.hexValue(c) {
                    chunkSize = chunkSize << 4 | Int(digit)
                    sizeDigits += 1
                    if chunkSize > limits.maxBody - decodedCount { return .failure(.bodyTooLarge) }
                    p += 1
                    continue
                }
                guard sizeDigits > 0 else { return .failure(.badChunkSize) }
                switch c {
                case UInt8(ascii: ";"): state = .sizeExtension
                case 0x20, 0x09: state = .sizeWhitespace
                case cr: state = .sizeLF
                default: return .failure(.badChunkSize)
                }
                p += 1
            case .sizeWhitespace:
                // BWS is allowed only before a chunk extension.
                switch c {
                case 0x20, 0x09: break
                case UInt8(ascii: ";"): state = .sizeExtension
                default: return .failure(.badChunkExtension)
                }
                p += 1
            case .sizeExtension:
                if c == cr {
                    state = .sizeLF
                } else if !ByteClass.isFieldValue(c) {
                    return .failure(.badChunkExtension)
                }
                p += 1
            case .sizeLF:
                guard c == lf else { return .failure(.badLineEnding) }
                p += 1
                remaining = chunkSize
                state = chunkSize == 0 ? .trailerStart : .data
                chunkSize = 0
                sizeDigits = 0
            case .data:
                let count = min(remaining, n - p)
                if decodedCount != p {
                    // Both ranges lie inside `buffer` and may overlap; copyMemory has memmove semantics.
                    (buffer.baseAddress! + decodedCount).copyMemory(from: buffer.baseAddress! + p, byteCount: count)
                }
                decodedCount += count
                remaining -= count
                p += count
                if remaining == 0 { state = .dataCR }
            case .dataCR:
                guard c == cr else { return .failure(.missingChunkTerminator) }
                state = .dataLF
                p += 1
            case .dataLF:
                guard c == lf else { return .failure(.missingChunkTerminator) }
                state = .size
                p += 1
            case .trailerStart:
                if c == cr {
                    state = .endLF
                } else if ByteClass.isToken(c) {
                    state = .trailerName
                } else {
                    return .failure(.badTrailer)
                }
                p += 1
            case .trailerName:
                if c == UInt8(ascii: ":") {
                    state = .trailerValue
                } else if !ByteClass.isToken(c) {
                    return .failure(.badTrailer)
                }
                p += 1
            case .trailerValue:
                if c == cr {
                    state = .trailerLF
                } else if !ByteClass.isFieldValue(c) {
                    return .failure(.badTrailer)
                }
                p += 1
            case .trailerLF:
                guard c == lf else { return .failure(.badLineEnding) }
                state = .trailerStart
                p += 1
            case .endLF:
                guard c == lf else { return .failure(.badLineEnding) }
                p += 1
                return .complete(p)
            }
        }
        if p - decodedCount > limits.maxChunkFraming { return .failure(.chunkFramingTooLarge) }
        return .partial
    }
}
