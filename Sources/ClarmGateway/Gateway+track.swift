import ClarmEvents
import ClarmHTTP
import ClarmServer
import ClarmStorage

extension Gateway {
    /// `POST /api/track`: one event object or an array of up to 1000; 202 once the store holds the valid ones.
    func track(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        if let encoding = request.header("content-encoding"), !Self.isIdentity(encoding) {
            sendError(.unsupportedMediaType, "Content-Encoding is not supported; send the body uncompressed", request, &response)
            return
        }
        let context = TrackRequestContext(
            receivedAt: wallClockMilliseconds(),
            userAgent: request.header("user-agent") ?? UnsafeRawBufferPointer(start: nil, count: 0))
        do {
            try decoder.decode(request.body, context: context, into: &batch)
        } catch {
            let status: HTTPStatus = if case .tooManyEvents = error { .contentTooLarge } else { .badRequest }
            sendError(status, error.description, request, &response)
            return
        }
        if batch.acceptedCount > 0 {
            let count = batch.acceptedCount
            let stored = batch.records.withUnsafeBytes { records -> StoreError? in
                do throws(StoreError) {
                    try store.append(records, count: count)
                    return nil
                } catch {
                    return error
                }
            }
            if let error = stored {
                sendError(.serviceUnavailable, "storage cannot take events now: \(error.description)", request, &response,
                          retryAfter: error.retryAfter)
                return
            }
        }
        json.reset()
        json.raw(#"{"accepted":"#)
        json.integer(batch.acceptedCount)
        json.raw(#","duplicates":0,"rejected":["#)
        for (i, rejection) in batch.rejections.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw(#"{"index":"#)
            json.integer(rejection.index)
            json.raw(#","error":"#)
            json.string(rejection.reason.description)
            json.raw("}")
        }
        json.raw("]}")
        send(.accepted, request, &response)
    }

    private static func isIdentity(_ value: UnsafeRawBufferPointer) -> Bool {
        value.count == 8 && zip(value, "identity".utf8).allSatisfy { $0 | 0x20 == $1 }
    }
}
