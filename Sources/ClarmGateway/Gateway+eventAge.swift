import ClarmEvents

extension Gateway {
    /// Accepts event timestamps from `days` before the server clock to an hour after it (`--max-event-age`;
    /// 30 days unless set; see `TrackDecoder`). Returns the gateway, to configure it where it is made.
    @discardableResult
    public func withMaxEventAge(days: Int) -> Gateway {
        decoder = TrackDecoder(maxEventAgeDays: days)
        return self
    }
}
