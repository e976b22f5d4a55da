import ClarmFuzzSupport
import ClarmHTTP

/// libFuzzer entry: the request head parser and the chunked decoder over arbitrary bytes.
///
/// Each input is parsed at once, then again split at a point derived from the data (the prefix in its own
/// block of exactly its size), then one byte at a time: the answers must agree. Whatever follows a complete
/// head (or the whole input when there is none) is also decoded as a chunked body, the same three ways.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let limits = fuzzLimits(for: input)
    let split = input.isEmpty ? 0 : Int(input[0] ^ input[input.count / 2]) * input.count / 255

    var whole = HTTPRequestParser(limits: limits)
    let answer = whole.parse(input)
    checkHead(answer, whole.head, input: input, limits: limits)

    var twoSteps = HTTPRequestParser(limits: limits)
    var first = withExactCopy(of: UnsafeRawBufferPointer(rebasing: input[0..<split])) { twoSteps.parse(UnsafeRawBufferPointer($0)) }
    if first == .partial { first = twoSteps.parse(input) }
    checkSame(answer, whole.head, first, twoSteps.head, "split at \(split)")

    var byteByByte = HTTPRequestParser(limits: limits)
    var stepped = HTTPParseResult.partial
    var end = 0
    while stepped == .partial && end < input.count {
        end += 1
        stepped = byteByByte.parse(UnsafeRawBufferPointer(rebasing: input[0..<end]))
    }
    checkSame(answer, whole.head, stepped, byteByByte.head, "byte by byte")

    var bodyStart = 0
    if case .complete(let headLength) = answer { bodyStart = headLength }
    fuzzChunked(UnsafeRawBufferPointer(rebasing: input[bodyStart...]), limits: limits)
    return 0
}

/// Small limits for inputs whose last byte is odd, so that every limit is reached by short inputs too.
private func fuzzLimits(for input: UnsafeRawBufferPointer) -> HTTPLimits {
    var limits = HTTPLimits()
    if let last = input.last, last & 1 == 1 {
        limits.maxRequestLine = 64
        limits.maxHeaderSection = 128
        limits.maxHeaderFields = 4
        limits.maxBody = 256
        limits.maxChunkFraming = 64
    }
    return limits
}

private func checkHead(_ answer: HTTPParseResult, _ head: HTTPRequestHead, input: UnsafeRawBufferPointer, limits: HTTPLimits) {
    guard case .complete(let length) = answer else { return }
    fuzzCheck(length > 0 && length <= input.count && length == head.length, "head length \(length) of \(input.count)")
    let all = 0..<length
    fuzzCheck(!head.methodRange.isEmpty && all.contains(head.methodRange.lowerBound), "method \(head.methodRange)")
    fuzzCheck(!head.target.isEmpty && head.target.upperBound <= length, "target \(head.target)")
    fuzzCheck(head.path.clamped(to: head.target) == head.path, "path \(head.path) outside target \(head.target)")
    if let query = head.query { fuzzCheck(query.clamped(to: head.target) == query, "query \(query) outside target") }
    fuzzCheck(head.headers.count <= limits.maxHeaderFields, "\(head.headers.count) header fields")
    for field in head.headers {
        fuzzCheck(!field.name.isEmpty && field.name.upperBound <= length && field.value.upperBound <= length,
                  "header field \(field) outside the head")
    }
    if case .contentLength(let n) = head.framing { fuzzCheck(n > 0 && n <= limits.maxBody, "content length \(n)") }
}

private func checkSame(_ a: HTTPParseResult, _ headA: HTTPRequestHead, _ b: HTTPParseResult, _ headB: HTTPRequestHead, _ how: String) {
    fuzzCheck(a == b, "\(how): \(b) instead of \(a)")
    guard case .complete = a else { return }
    fuzzCheck(headA.method == headB.method && headA.methodRange == headB.methodRange && headA.target == headB.target
              && headA.path == headB.path && headA.query == headB.query && headA.minorVersion == headB.minorVersion
              && headA.headers == headB.headers && headA.framing == headB.framing && headA.keepAlive == headB.keepAlive
              && headA.expectsContinue == headB.expectsContinue && headA.length == headB.length,
              "\(how): a different head")
}

/// Decodes `body` as a chunked body at once, split in two, and byte by byte; the outcomes must agree.
private func fuzzChunked(_ body: UnsafeRawBufferPointer, limits: HTTPLimits) {
    let split = body.isEmpty ? 0 : Int(body[body.count - 1]) * body.count / 255
    withExactCopy(of: body) { once in
        var decoder = HTTPChunkedDecoder(limits: limits)
        let answer = decoder.decode(once)
        fuzzCheck(decoder.decodedCount <= limits.maxBody, "decoded \(decoder.decodedCount) bytes past the limit")
        if case .complete(let wire) = answer {
            fuzzCheck(wire <= body.count && decoder.decodedCount <= wire, "wire length \(wire), decoded \(decoder.decodedCount)")
        }
        let decoded = UnsafeRawBufferPointer(rebasing: once[0..<decoder.decodedCount])
        for cuts in [[split, body.count], Array(stride(from: 1, through: body.count, by: 1))] {
            withExactCopy(of: body) { buffer in
                var stepped = HTTPChunkedDecoder(limits: limits)
                var result = HTTPParseResult.partial
                for cut in cuts where result == .partial {
                    result = stepped.decode(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<cut]))
                }
                let how = cuts.count == 2 ? "chunked split at \(split)" : "chunked byte by byte"
                fuzzCheck(result == answer, "\(how): \(result) instead of \(answer)")
                if case .failure = answer { return }
                fuzzCheck(stepped.decodedCount == decoder.decodedCount
                          && UnsafeRawBufferPointer(rebasing: buffer[0..<stepped.decodedCount]).elementsEqual(decoded),
                          "\(how): different body bytes")
            }
        }
    }
}
