import ArgumentParser
import ClarmClickHouse
import ClarmGateway
import ClarmQuery
import ClarmStorage
import Logging

/// `serve --clickhouse URL`: ship every acknowledged event to ClickHouse (docs/SCALE.md).
extension Serve {
    /// Prepares shipping before the gateway listens: the first time, points the change feed at the logs' end
    /// and writes the backfill of everything stored before (`ClickHouseBackfill`); then starts the shipper.
    /// Nil without `--clickhouse`.
    func startShipping(_ store: Store, runtime: GatewayRuntime, logger: Logger) throws -> ClickHouseShipper? {
        guard let clickhouseURL else { return nil }
        let endpoint = try clickhouse.endpoint(clickhouseURL)
        let consumer = ChangeFeedShippingSource.consumer
        let backfill = try ClickHouseBackfill(directory: "\(data)/clickhouse", store: store) {
            logger.info("first start with --clickhouse: writing the events stored so far into \(data)/clickhouse/backfill.rows")
            if store.feedConsumers.contains(consumer) { try store.removeFeed(consumer: consumer) }
            _ = try store.feed(consumer: consumer)
        }
        if !backfill.status.done {
            logger.info("backfill: \(backfill.status.shipped) of \(backfill.status.rows) stored events already in ClickHouse")
        }
        let erasures = try ClickHouseErasures(directory: "\(data)/clickhouse")
        if erasures.count > 0 { logger.info("\(erasures.count) erasures wait for ClickHouse to accept them") }
        var options = ClickHouseShipper.Options()
        options.batchEvents = clickhouseBatchEvents
        options.intervalMilliseconds = Int64(clickhouseIntervalMs)
        let shipper = ClickHouseShipper(endpoint: endpoint, shards: store.shardCount, options: options, backfill: backfill,
                                        erasures: erasures, servers: try clickhouseURLs.map { try clickhouse.endpoint($0) },
                                        source: try ChangeFeedShippingSource(store: store))
        runtime.reportShipping { shipper.status }
        runtime.forwardErasures { site, visitor in try shipper.erase(site: site, visitor: visitor) }
        shipper.start()
        logger.info("shipping every acknowledged event to ClickHouse at \(clickhouseURL), table \(endpoint.eventsTable)")
        return shipper
    }

    /// With `--query-engine clickhouse`, hands the gateway the SQL engine over the table shipping fills.
    func answerQueriesFromClickHouse(_ runtime: GatewayRuntime) throws {
        guard queryEngine == "clickhouse", let clickhouseURL else { return }
        // The answer comes when the query is done: up to `--query-timeout` (ClickHouse's max_execution_time).
        let endpoint = try clickhouse.endpoint(clickhouseURL, timeoutSeconds: queryTimeout + 1)
        let seconds = queryTimeout, memory = clickhouseQueryMemory.bytes
        runtime.answerQueries(with: ClickHouseQueryEngine(table: endpoint.eventsTable) {
            try endpoint.select($0, seconds: seconds, memoryBytes: memory)
        })
    }

    func validateShipping() throws {
        guard queryEngine == "embedded" || queryEngine == "clickhouse" else { throw ValidationError("--query-engine must be embedded or clickhouse") }
        if queryEngine == "clickhouse" && clickhouseURL == nil { throw ValidationError("--query-engine clickhouse needs --clickhouse") }
        guard clickhouseURL != nil else { return }
        guard clickhouseQueryMemory.bytes >= 1 << 20 else { throw ValidationError("--clickhouse-query-memory must be at least 1M") }
        if clickhouseURLs.count > 1 && clickhouse.cluster == nil { throw ValidationError("several --clickhouse servers need --clickhouse-cluster") }
        guard (1...1_000_000).contains(clickhouseBatchEvents) else { throw ValidationError("--clickhouse-batch-events must be 1...1000000") }
        guard (1...600_000).contains(clickhouseIntervalMs) else { throw ValidationError("--clickhouse-interval-ms must be 1...600000") }
    }
}
