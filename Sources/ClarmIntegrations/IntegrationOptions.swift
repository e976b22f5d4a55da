/// Settings of delivery to destinations (`clarm serve` flags, README "Integrations").
public struct IntegrationOptions: Sendable {
    /// Send to loopback, private and link-local addresses too (`--allow-private-destinations`).
    public var allowPrivateDestinations = false
    /// Seconds before each retry of a failed message; after the last, the message is dead-lettered. The
    /// Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, … about three days in all.
    public var retryDelays: [Double] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000]
    /// Seconds between two Slack messages of one destination (Slack takes about one a second).
    public var slackInterval = 1.0
    /// Seconds a request to a destination may take, connection and answer included (connecting alone: at most 5).
    public var requestTimeoutSeconds = 15.0
    /// A PEM file of certificate authorities trusted for `https://` destinations besides the system's
    /// (`--destination-ca-file`).
    public var caFile: String?
    /// At most this many destinations.
    public var maxDestinations = 100
    /// Events one delivery turn reads from a shard (bounds the memory a slow receiver holds).
    public var readEvents = 500
    public var readBytes = 1 << 20
    /// Dead-lettered messages kept per destination, and their bytes (the oldest go first).
    public var maxDeadLetters = 1_000
    public var maxDeadLetterBytes = 16 << 20

    public init() {}
}
