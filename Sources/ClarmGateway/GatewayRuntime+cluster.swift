import ClarmClickHouse

extension GatewayRuntime {
    /// Where `/api/cluster` and `/metrics` read shipping to ClickHouse from (the shipper, made after the runtime).
    public func reportShipping(with status: @escaping @Sendable () -> ShippingStatus) {
        shipping.withLock { $0 = status }
    }

    var shippingStatus: ShippingStatus? { shipping.withLock { $0?() } }
}
