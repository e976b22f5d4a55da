/// Where the gateway puts validated events. Storage knows events, never HTTP.
public protocol EventStore: Sendable {
    /// Stores `count` records laid out as `EventRecord` describes; returns once the store holds them.
    func append(_ records: UnsafeRawBufferPointer, count: Int) throws(StoreError)
    /// Makes everything appended so far as durable as the store can, before shutdown.
    func flush() throws(StoreError)
}

/// A store that cannot take events now; the gateway answers 503 and acknowledges nothing.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Seconds after which the client may retry.
    public let retryAfter: Int

    public init(_ description: String, retryAfter: Int = 1) {
        self.description = description
        self.retryAfter = retryAfter
    }
}
