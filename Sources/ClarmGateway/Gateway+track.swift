import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmServer
import ClarmStorage
import ClarmSystem
import Synchronization

extension Gateway {
    /// `POST /api/track`: one event object or an array of up to 1000. The 202 is sent once every shard
    /// the events belong to has them in its WAL (fsynced by default); a storage failure gets 503.
    func track(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        if let encoding = request.header("content-encoding"), !Self.isIdentity(encoding) {
            sendError(.unsupportedMediaType, "Content-Encoding is not supported; send the body uncompressed", request, &response)
            return
        }
        refreshSites()
        let context = TrackRequestContext(
            receivedAt: wallClockMilliseconds(),
            userAgent: request.header("user-agent") ?? UnsafeRawBufferPointer(start: nil, count: 0),
            keptParameters: siteRules.snapshot,
            location: location(of: request))
        do {
            try decoder.decode(request.body, context: context, into: &batch)
        } catch {
            let status: HTTPStatus = if case .tooManyEvents = error { .contentTooLarge } else { .badRequest }
            sendError(status, error.description, request, &response)
            return
        }
        var rejections = batch.rejections.map { (index: $0.index, message: $0.reason.description) }
        runtime.metrics.countRejections(batch.rejections)
        if case .overLimit(let site, let retryAfter) = checkSites(request, rejections: &rejections) {
            sendError(.tooManyRequests, "site \(site) is over its event rate limit; nothing was stored, retry after \(retryAfter) s",
                      request, &response, retryAfter: retryAfter)
            return
        }

        // Split the records by shard; each shard gets one append with its part. Crawlers' events are dropped.
        let bots = shardBatches.split(batch, store: store, keeps: siteRules.keeps, crawlers: &crawlerFilter)
        runtime.metrics.bots.add(bots)
        let shardsUsed = shardBatches.shardsUsed
        guard shardsUsed > 0 else {
            json.reset()
            TrackAnswer.write(accepted: 0, duplicates: 0, bots: bots, rejections: rejections, into: &json)
            send(.accepted, request, &response)
            return
        }
        let answer = TrackAnswer(shards: shardsUsed, bots: bots, rejections: rejections, metrics: runtime.metrics,
                                 crossOrigin: crossOrigin, pending: response.suspend())
        for shard in 0..<store.shardCount where shardBatches.counts[shard] > 0 {
            // A closure that captures one object needs no context of its own: one allocation less per request.
            store.append(shard: shard, records: shardBatches.records[shard], count: shardBatches.counts[shard]) { answer.finish($0) }
            shardBatches.clear(shard)
        }
    }

    private static func isIdentity(_ value: UnsafeRawBufferPointer) -> Bool {
        value.count == 8 && zip(value, "identity".utf8).allSatisfy { $0 | 0x20 == $1 }
    }
}

/// Gathers the shards' outcomes of one tracking request and writes its answer once all are in.
final class TrackAnswer: Sendable {
    private struct State {
        var remaining: Int
        var accepted = 0
        var duplicates = 0
        var failure: StoreError? = nil
    }

    private let state: Mutex<State>
    private let bots: Int
    private let rejections: [(index: Int, message: String)]
    private let metrics: GatewayMetrics
    private let crossOrigin: CrossOrigin
    private let pending: PendingResponse

    init(shards: Int, bots: Int, rejections: [(index: Int, message: String)], metrics: GatewayMetrics, crossOrigin: CrossOrigin,
         pending: PendingResponse) {
        state = Mutex(State(remaining: shards))
        self.bots = bots
        self.rejections = rejections
        self.metrics = metrics
        self.crossOrigin = crossOrigin
        self.pending = pending
    }

    /// Records one shard's outcome; the last one resumes the response.
    func finish(_ outcome: AppendOutcome) {
        let last = state.withLock { state in
            switch outcome {
            case .stored(let accepted, let duplicates):
                state.accepted += accepted
                state.duplicates += duplicates
            case .failed(let error):
                state.failure = error
            }
            state.remaining -= 1
            return state.remaining == 0
        }
        if last { pending.resume { self.write(&$0) } }
    }

    /// 202 with the counts, or 503 when any shard failed: then the request is not acknowledged as a whole.
    func write(_ response: inout HTTPResponseWriter) {
        let (accepted, duplicates, failure) = state.withLock { ($0.accepted, $0.duplicates, $0.failure) }
        var json = JSONWriter()
        if let failure {
            json.raw(#"{"error":"#)
            json.string("storage cannot take events now: \(failure.description)")
            json.raw("}")
            response.start(.serviceUnavailable)
            response.header("Retry-After", failure.retryAfter)
        } else {
            Self.write(accepted: accepted, duplicates: duplicates, bots: bots, rejections: rejections, into: &json)
            metrics.accepted.add(accepted)
            metrics.duplicates.add(duplicates)
            response.start(.accepted)
        }
        crossOrigin.write(&response)
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }

    static func write(accepted: Int, duplicates: Int, bots: Int, rejections: [(index: Int, message: String)],
                      into json: inout JSONWriter) {
        json.raw(#"{"accepted":"#)
        json.integer(accepted)
        json.raw(#","duplicates":"#)
        json.integer(duplicates)
        json.raw(#","bots":"#)
        json.integer(bots)
        json.raw(#","rejected":"#)
        json.array(rejections) { rejection, json in
            json.raw(#"{"index":"#)
            json.integer(rejection.index)
            json.raw(#","error":"#)
            json.string(rejection.message)
            json.raw("}")
        }
        json.raw("}")
    }
}
