import ClarmQuery
import ClarmServer

/// What every event loop's gateway shares about who may send what: the registered sites, how the client
/// address is found, and the per-address request limit.
public final class TrafficPolicy: Sendable {
    public let sites: SiteRegistry
    public let clients: ClientAddressRule
    /// nil: requests are not limited per address.
    public let requestsPerAddress: AddressRateLimiter?
    let activity = SiteActivity()

    /// By default: sites kept in memory only (none registered, so every site is accepted), no request limit.
    public init(sites: SiteRegistry? = nil, clients: ClientAddressRule = ClientAddressRule(),
                requestsPerAddress: AddressRateLimiter? = nil) {
        self.sites = sites ?? SiteRegistry()
        self.clients = clients
        self.requestsPerAddress = requestsPerAddress
    }
}
