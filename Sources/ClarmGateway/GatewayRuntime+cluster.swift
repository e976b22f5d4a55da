import ClarmClickHouse
import ClarmQuery

extension GatewayRuntime {
    /// Where `/api/cluster` and `/metrics` read shipping to ClickHouse from (the shipper, made after the runtime).
    public func reportShipping(with status: @escaping @Sendable () -> ShippingStatus) {
        shipping.withLock { $0 = status }
    }

    var shippingStatus: ShippingStatus? { shipping.withLock { $0?() } }

    /// Records each erasure (site, visitor) for ClickHouse too, before it is answered (docs/SCALE.md, "Erasure").
    public func forwardErasures(with record: @escaping @Sendable (String, String) throws -> Void) {
        erasureForwarding.withLock { $0 = record }
    }

    var forwardedErasure: (@Sendable (String, String) throws -> Void)? { erasureForwarding.withLock { $0 } }

    /// With `--query-engine clickhouse`: `POST /api/query` runs as SQL on ClickHouse instead of on the local store.
    public func answerQueries(with engine: ClickHouseQueryEngine) {
        sqlEngine.withLock { $0 = engine }
    }

    var clickhouseQueries: ClickHouseQueryEngine? { sqlEngine.withLock { $0 } }
}
