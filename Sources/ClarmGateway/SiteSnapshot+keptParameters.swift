import ClarmEvents

/// The decoder asks the request's snapshot which sensitive URL parameters an event's site keeps. An
/// unregistered site keeps none (its events are rejected anyway, once any site is registered).
extension SiteSnapshot: KeptParameterLookup {
    public func keptParameters(site: UnsafeRawBufferPointer) -> SensitiveParameters {
        find(site).map { entries[$0].keptParameters } ?? []
    }
}
