import ClarmEvents
import ClarmStorage

/// An event's values of every `event:` and `visit:` dimension that depends on it alone (docs/QUERIES.md):
/// its page and hostname, and what it says about a visit if it is the visit's first event. Stores that answer
/// queries elsewhere (ClickHouse) keep these beside the event, computed by the code the embedded engine uses.
public struct EventDimensions: Sendable, Equatable {
    public var page: String
    public var hostname: String
    public var source: String
    public var channel: String
    public var referrer: String
    public var utmSource: String
    public var utmMedium: String
    public var utmCampaign: String
    public var browser: String
    public var os: String
    public var device: String

    public init(_ event: EventRecord) {
        var strings = ByteInterner()
        var agents: [UInt32: UserAgent] = [:]
        let url = Array(event.url.utf8)
        let parts = url.withUnsafeBytes { URLParts($0) }
        func id(_ bytes: ArraySlice<UInt8>) -> UInt32 { Array(bytes).withUnsafeBytes { strings.id(for: $0) } }
        let row = EventRow(
            visitor: 0, session: 0, timestamp: event.timestamp, sequence: 0, event: 0,
            path: id(url[parts.path]), origin: id(url[parts.origin]), rest: id(url[parts.rest]),
            referrer: id(Array(event.referrer.utf8)[...]), userAgent: id(Array(event.userAgent.utf8)[...]),
            amount: 0, currency: 0, properties: 0, property: 0, country: 0, region: 0, city: 0)
        let attributes = VisitAttributes(first: row, strings: strings, agents: &agents)
        page = strings.string(row.path)
        hostname = VisitAttributes.host(strings.string(row.origin))
        source = attributes.source
        channel = attributes.channel
        referrer = attributes.referrer
        utmSource = attributes.utmSource
        utmMedium = attributes.utmMedium
        utmCampaign = attributes.utmCampaign
        browser = attributes.agent.browser
        os = attributes.agent.os
        device = attributes.agent.device
    }
}
