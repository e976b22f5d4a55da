import ClarmQuery

/// Queries run in the site's registered zone unless they name one (docs/QUERIES.md, "Time zones").
extension Gateway {
    /// The zone a site is registered with; nil for unregistered sites (UTC).
    func registeredTimezone(_ site: String) -> String? {
        traffic.sites.snapshot().snapshot.entry(site)?.registration.timezone
    }

    /// The zone of a list route: `timezone=` when given, else the site's.
    func listZone(_ parameters: [String: String], site: String) throws(QueryError) -> TimeZoneRules {
        try Query.zone(parameters["timezone"].map { .string($0) }, site: site, zones: .system,
                       siteTimezone: registeredTimezone)
    }
}
