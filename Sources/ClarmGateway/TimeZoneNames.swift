import ClarmQuery

/// Time zone names of the system's tz database (`/usr/share/zoneinfo`, Debian's `tzdata`).
public struct TimeZoneNames: Sendable {
    public let directory: String

    public init(directory: String = "/usr/share/zoneinfo") {
        self.directory = directory
    }

    /// Whether `name` (such as `Europe/Berlin`) is a zone of the database that queries can use: a plain
    /// relative name (so it can never point outside the database) of a TZif file that reads without error.
    /// `UTC` always is: queries need no database for it.
    public func contains(_ name: String) -> Bool {
        name.utf8.count <= SiteRegistration.maxTimezoneBytes
            && (try? TimeZoneDatabase(directory: directory).rules(named: name)) != nil
    }
}
