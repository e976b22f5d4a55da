import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem

/// Query budgets: every query route runs its work through the shared `QueryScheduler` (bounded threads, a short
/// queue, then 503) under a `QueryControl` (deadline, client disconnect, row cap), never on the event loop.
extension Gateway {
    /// Runs `work` on a query thread and answers with the status and JSON it returns, or those its error calls for;
    /// the event loop serves other connections meanwhile. `work` gets an engine bound to this request's budget and
    /// the monotonic time the request arrived. Answers hold visitors' data: no cache keeps them.
    func respondLater(_ request: HTTPRequest, _ response: inout HTTPResponseWriter,
                      _ work: @escaping @Sendable (QueryEngine, Int64) throws(QueryError) -> (HTTPStatus, [UInt8])) {
        let crossOrigin = crossOrigin
        let started = monotonicMilliseconds()
        let pending = response.suspend()
        let options = runtime.options
        let metrics = runtime.metrics
        let control = QueryControl(timeoutMilliseconds: options.queryTimeoutMilliseconds, maxRows: options.queryMaxRows,
                                   isCancelled: { pending.isConnectionClosed })
        let engine = QueryEngine(store: store, control: control)
        let admitted = runtime.scheduler.submit {
            let status: HTTPStatus
            let body: [UInt8]
            do throws(QueryError) {
                // A query that waited out its deadline in the queue stops before reading anything.
                try control.stopIfDue()
                (status, body) = try work(engine, started)
            } catch {
                status = Self.status(of: error)
                if let stop = Self.stopReason(error.kind) { metrics.queriesStopped.add(at: stop.rawValue) }
                body = Self.errorBody(error.description)
            }
            metrics.queryDuration.observe(micro: Int(monotonicMilliseconds() - started) * 1000)
            pending.resume { response in
                response.start(status)
                response.header("Cache-Control", "no-store")
                crossOrigin.write(&response)
                if status == .serviceUnavailable { response.header("Retry-After", 1) }
                body.withUnsafeBytes { response.body($0, contentType: "application/json") }
            }
        }
        if !admitted {
            metrics.queriesStopped.add(at: GatewayMetrics.QueryStop.queueFull.rawValue)
            let body = Self.errorBody("too many queries at once: \(options.queryConcurrency) running and \(options.queryQueue) waiting (--query-concurrency, --query-queue); retry shortly")
            pending.resume { response in
                response.start(.serviceUnavailable)
                crossOrigin.write(&response)
                response.header("Retry-After", 1)
                body.withUnsafeBytes { response.body($0, contentType: "application/json") }
            }
        }
    }

    static func status(of error: QueryError) -> HTTPStatus {
        switch error.kind {
        case .timeout: .gatewayTimeout
        case .tooManyRows: .unprocessableContent
        // No one reads it; a status that says the server did not finish.
        case .cancelled: .serviceUnavailable
        case .invalid: error.field == "storage" ? .internalServerError : .badRequest
        }
    }

    private static func stopReason(_ kind: QueryError.Kind) -> GatewayMetrics.QueryStop? {
        switch kind {
        case .timeout: .timeout
        case .cancelled: .cancelled
        case .tooManyRows: .tooManyRows
        case .invalid: nil
        }
    }

    static func errorBody(_ message: String) -> [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.raw(#"{"error":"#)
        json.string(message)
        json.raw("}")
        return json.bytes
    }
}
