import ClarmClickHouse
import ClarmEvents
import ClarmJSON
import ClarmMetrics
import ClarmServer
import ClarmSystem

/// `GET /api/cluster` (behind API keys, like the query routes): where shipping to ClickHouse stands
/// (docs/SCALE.md): rows shipped, backlog, lag, the last error, the backfill, erasures, per shard. `{"shipping":false}`
/// when the gateway does not ship.
extension Gateway {
    func cluster(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        switch request.method {
        case .get, .head: break
        default:
            methodNotAllowed(request, &response, allow: "GET, HEAD")
            return
        }
        guard authorized(request, &response) else { return }
        json.reset()
        guard let status = runtime.shippingStatus else {
            json.raw(#"{"shipping":false}"#)
            send(.ok, request, &response)
            return
        }
        let now = wallClockMilliseconds()
        json.raw(#"{"shipping":true,"clickhouse":{"url":"#)
        json.string(status.url)
        json.raw(#","database":"#)
        json.string(status.database)
        json.raw(#","cluster":"#)
        optionalString(status.cluster)
        json.raw(#"},"shipped":"#)
        json.integer(status.shipped)
        json.raw(#","backlog_bytes":"#)
        json.integer(status.backlogBytes)
        json.raw(#","lag_ms":"#)
        json.integer(Int(status.lagMilliseconds(now: now)))
        json.raw(#","last_error":"#)
        optionalString(status.lastError?.message)
        json.raw(#","last_error_at":"#)
        optionalInstant(status.lastError?.at)
        json.raw(#","backfill":{"rows":"#)
        json.integer(status.backfill.rows)
        json.raw(#","shipped":"#)
        json.integer(status.backfill.shipped)
        json.raw(#","done":"#)
        json.raw(status.backfill.done ? "true" : "false")
        json.raw(#"},"erasures":{"pending":"#)
        json.integer(status.erasures.pending)
        json.raw(#","accepted":"#)
        json.integer(status.erasures.accepted)
        json.raw(#","failures":"#)
        json.integer(status.erasures.failures)
        json.raw(#","last_error":"#)
        optionalString(status.erasures.lastError)
        json.raw(#","last_error_at":"#)
        optionalInstant(status.erasures.lastErrorAt)
        json.raw(#"},"shards":"#)
        json.array(status.shards.enumerated()) { item, json in
            let (index, shard) = item
            json.raw(#"{"shard":"#)
            json.integer(index)
            json.raw(#","shipped":"#)
            json.integer(shard.shipped)
            json.raw(#","pending":"#)
            json.integer(shard.pending)
            json.raw(#","backlog_bytes":"#)
            json.integer(shard.unreadBytes)
            json.raw(#","lag_ms":"#)
            json.integer(Int(shard.oldestPendingArrival.map { max(0, now - $0) } ?? 0))
            json.raw(#","failures":"#)
            json.integer(shard.failures)
            json.raw(#","last_error":"#)
            if let error = shard.lastError { json.string(error) } else { json.raw("null") }
            json.raw(#","last_shipped_at":"#)
            if let at = shard.lastShippedAt { json.string(Timestamp.format(at)) } else { json.raw("null") }
            json.raw("}")
        }
        json.raw("}")
        send(.ok, request, &response)
    }

    private func optionalString(_ value: String?) {
        if let value { json.string(value) } else { json.raw("null") }
    }

    private func optionalInstant(_ value: Int64?) {
        if let value { json.string(Timestamp.format(value)) } else { json.raw("null") }
    }

    /// Shipping's gauges and counters in `/metrics`, when the gateway ships.
    func writeShipping(_ text: inout PrometheusText) {
        guard let status = runtime.shippingStatus else { return }
        func perShard(_ value: (ShippingStatus.Shard) -> Int) -> [(labels: [(String, String)], value: Int)] {
            status.shards.enumerated().map { ([("shard", String($0.offset))], value($0.element)) }
        }
        let now = wallClockMilliseconds()
        text.write("clarm_clickhouse_shipped_rows_total", help: "Rows ClickHouse acknowledged since start, per shard.", type: "counter",
                   rows: perShard { $0.shipped })
        text.write("clarm_clickhouse_backlog_bytes", help: "Bytes of acknowledged log not yet in ClickHouse, per shard.", type: "gauge",
                   rows: perShard { $0.unreadBytes })
        text.write("clarm_clickhouse_lag_seconds", help: "Seconds since the oldest event not yet shipped arrived, per shard.", type: "gauge",
                   rows: perShard { Int(($0.oldestPendingArrival.map { max(0, now - $0) } ?? 0) / 1000) })
        text.write("clarm_clickhouse_failures_total", help: "Failed inserts and feed reads, per shard.", type: "counter",
                   rows: perShard { $0.failures })
        text.write("clarm_clickhouse_backfill_pending_rows", help: "Rows of the one-time backfill not yet shipped.", type: "gauge",
                   rows: [([], status.backfill.rows - status.backfill.shipped)])
        text.write("clarm_clickhouse_erasures_pending", help: "Erased visitors whose deletion ClickHouse has not accepted yet.", type: "gauge",
                   rows: [([], status.erasures.pending)])
    }
}
