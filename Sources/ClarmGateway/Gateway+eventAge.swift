import ClarmEvents

extension Gateway {
    /// `--max-event-age` when not given, in days.
    public static let defaultMaxEventAgeDays = TrackDecoder.defaultMaxEventAgeDays
    /// The most `--max-event-age` may be, in days.
    public static let maxEventAgeLimit = TrackDecoder.maxEventAgeLimit

    /// Accepts event timestamps from `days` before the server clock to an hour after it (`--max-event-age`;
    /// `defaultMaxEventAgeDays` unless set; see `TrackDecoder`). Returns the gateway, to configure it where it is made.
    @discardableResult
    public func withMaxEventAge(days: Int) -> Gateway {
        decoder = TrackDecoder(maxEventAgeDays: days)
        return self
    }
}
