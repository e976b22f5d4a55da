import ClarmEvents
import ClarmGeoIP
import ClarmServer

extension Gateway {
    /// Locates the client of every tracking request in `database` (`--geoip`): its country, region and city
    /// are stored with the request's events, its address never. The database is shared; each gateway (one per
    /// event loop) keeps its own cache of it. Returns the gateway, to configure it where it is made.
    @discardableResult
    public func withGeoIP(_ database: GeoIPDatabase?) -> Gateway {
        geoIP = database.map(GeoIPLocator.init)
        return self
    }

    /// Where the request's client is, found by the rule the rate limiter uses (the peer, or the trusted
    /// `X-Forwarded-For` entry); unknown without a database.
    func location(of request: HTTPRequest) -> EventLocation {
        guard let geoIP else { return .unknown }
        let address = traffic.clients.client(of: request).address
        return geoIP.locate(high: address.high, low: address.low, ipv4: address.isIPv4)
    }
}
