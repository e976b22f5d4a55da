import ClarmHTTP
import ClarmMetrics
import ClarmServer
import ClarmIntegrations
import ClarmStorage

/// `GET /metrics`: the Prometheus text exposition of the gateway's counters, the query scheduler, the
/// connections, and what storage holds now (`Store.snapshot()`).
extension Gateway {
    func metrics(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard metricsAuthorized(request, &response) else { return }
        let metrics = runtime.metrics
        var text = PrometheusText()
        text.write("clarm_http_requests_total", help: "HTTP responses by route and status code.", type: "counter",
                   rows: metrics.requestRows)
        text.write(metrics.accepted)
        text.write(metrics.rejected)
        text.write(metrics.duplicates)
        text.write(metrics.bots)
        text.write(metrics.queryDuration)
        text.write(metrics.queriesStopped)
        let load = runtime.scheduler.load
        text.write("clarm_queries_running", help: "Queries running now.", type: "gauge", rows: [([], load.running)])
        text.write("clarm_query_queue_length", help: "Queries waiting for a thread.", type: "gauge", rows: [([], load.queued)])
        text.write("clarm_open_connections", help: "Client connections open now.", type: "gauge",
                   rows: [([], runtime.openConnections)])

        let shards = store.snapshot()
        func perShard(_ value: (ShardSnapshot) -> Int) -> [(labels: [(String, String)], value: Int)] {
            shards.enumerated().map { ([("shard", String($0.offset))], value($0.element)) }
        }
        text.write("clarm_shard_segments", help: "Segments per shard.", type: "gauge", rows: perShard { $0.segments.count })
        text.write("clarm_shard_segment_bytes", help: "Bytes of segment files per shard.", type: "gauge",
                   rows: perShard { $0.segments.reduce(0) { $0 + $1.fileSize } })
        text.write("clarm_shard_memtable_events", help: "Events buffered in memory per shard, not yet sealed.", type: "gauge",
                   rows: perShard { $0.memtables.reduce(0) { $0 + $1.count } })
        text.write("clarm_shard_memtable_bytes", help: "Bytes of events buffered in memory per shard.", type: "gauge",
                   rows: perShard { $0.memtables.reduce(0) { $0 + $1.bytes } })
        for histogram in metrics.storage.histograms { text.write(histogram) }
        if let integrations { writeDestinationMetrics(integrations, &text) }
        text.write(metrics.storage.dedupWindowSeconds)
        for counter in metrics.storage.counters { text.write(counter) }
        text.write("clarm_shard_erasures_pending", help: "Erased visitors whose events a shard has not yet purged from its files.",
                   type: "gauge", rows: perShard { $0.erased.count })
        writeShipping(&text)

        response.start(.ok)
        response.header("Cache-Control", "no-store")
        text.bytes.withUnsafeBytes { response.body($0, contentType: PrometheusText.contentType) }
    }
}
