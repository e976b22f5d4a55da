import ClarmJSON
import ClarmServer

/// A registered site: its name, the time zone its reports use, the browser origins allowed to send its
/// events, and its event rate limit.
public struct SiteRegistration: Sendable, Equatable {
    public var site: String
    public var timezone: String
    /// Exact `scheme://host[:port]` strings, lowercased.
    public var origins: [String]
    /// Events a second the site may send, in bursts of up to `eventsBurst`; 0 means no limit.
    public var eventsPerSecond: Int
    public var eventsBurst: Int

    public static let maxSiteBytes = 253
    public static let maxOrigins = 32
    public static let maxOriginBytes = 300
    public static let maxTimezoneBytes = 64
    public static let maxEventsPerSecond = 1_000_000
    public static let defaultEventsPerSecond = 1000
    public static let defaultEventsBurst = 5000

    public init(site: String, timezone: String = "UTC", origins: [String] = [],
                eventsPerSecond: Int = defaultEventsPerSecond, eventsBurst: Int = defaultEventsBurst) {
        self.site = site
        self.timezone = timezone
        self.origins = origins
        self.eventsPerSecond = eventsPerSecond
        self.eventsBurst = eventsBurst
    }
}

/// Why a registration was refused; `description` names the field and the rule.
public struct SiteRegistrationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension SiteRegistration {
    /// Reads and validates a registration object; `site` falls back to `pathSite` (the `{site}` of a PUT),
    /// and when both are given they must agree. Time zones are checked against `zones`.
    static func parse(_ value: JSONValue, pathSite: String? = nil, zones: TimeZoneNames) throws(SiteRegistrationError) -> SiteRegistration {
        guard case .object(let members) = value else { throw SiteRegistrationError("body must be a JSON object") }
        for member in members where !["site", "timezone", "origins", "events_per_second", "events_burst"].contains(member.key) {
            throw SiteRegistrationError("unknown field \(member.key.debugDescription); fields are site, timezone, origins, events_per_second, events_burst")
        }
        var site: String
        switch value["site"] {
        case nil, .null?:
            guard let pathSite else { throw SiteRegistrationError("site is required") }
            site = pathSite
        case .string(let text)?:
            site = text
        default:
            throw SiteRegistrationError("site must be a string")
        }
        site = try validSite(site)
        if let pathSite, try validSite(pathSite) != site {
            throw SiteRegistrationError("site in the body (\(site)) differs from the site in the path (\(pathSite))")
        }
        var registration = SiteRegistration(site: site)
        switch value["timezone"] {
        case nil, .null?: break
        case .string(let zone)?:
            guard zones.contains(zone) else {
                throw SiteRegistrationError("timezone \(zone.prefix(maxTimezoneBytes).debugDescription) is not in the time zone database; use a name such as Europe/Berlin or UTC")
            }
            registration.timezone = zone
        default:
            throw SiteRegistrationError("timezone must be a string such as Europe/Berlin")
        }
        switch value["origins"] {
        case nil, .null?: break
        case .array(let items)?:
            guard items.count <= maxOrigins else { throw SiteRegistrationError("origins: at most \(maxOrigins)") }
            for item in items {
                guard case .string(let text) = item else { throw SiteRegistrationError("origins must be strings such as https://shop.example.com") }
                let origin = try validOrigin(text)
                if !registration.origins.contains(origin) { registration.origins.append(origin) }
            }
        default:
            throw SiteRegistrationError("origins must be an array of strings such as https://shop.example.com")
        }
        registration.eventsPerSecond = try count(value["events_per_second"], field: "events_per_second", default: defaultEventsPerSecond)
        registration.eventsBurst = try count(value["events_burst"], field: "events_burst", default: max(defaultEventsBurst, registration.eventsPerSecond))
        if registration.eventsPerSecond > 0 && registration.eventsBurst < 1 {
            throw SiteRegistrationError("events_burst must be at least 1 when events_per_second is set")
        }
        return registration
    }

    private static func count(_ value: JSONValue?, field: String, default fallback: Int) throws(SiteRegistrationError) -> Int {
        switch value {
        case nil, .null?: return fallback
        case .number(let text)?:
            guard let n = Int(text), (0...maxEventsPerSecond).contains(n) else {
                throw SiteRegistrationError("\(field) must be an integer in 0...\(maxEventsPerSecond) (0: no limit)")
            }
            return n
        default:
            throw SiteRegistrationError("\(field) must be an integer in 0...\(maxEventsPerSecond) (0: no limit)")
        }
    }

    /// A host name, lowercased: labels of letters, digits and `-` (not at either end), 1–63 bytes each, ≤ 253 in all.
    static func validSite(_ text: String) throws(SiteRegistrationError) -> String {
        let site = text.lowercased()
        let bytes = Array(site.utf8)
        guard !bytes.isEmpty, bytes.count <= maxSiteBytes else {
            throw SiteRegistrationError("site must be a host name of 1–\(maxSiteBytes) bytes such as shop.example.com")
        }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            let valid = (1...63).contains(label.count) && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
            guard valid else {
                throw SiteRegistrationError("site \(String(site.prefix(maxSiteBytes)).debugDescription) is not a host name: labels of a-z, 0-9 and '-', 1–63 bytes each, such as shop.example.com")
            }
        }
        return site
    }

    /// `http` or `https`, `://`, a host name or bracketed IPv6 address, an optional port; nothing after it.
    static func validOrigin(_ text: String) throws(SiteRegistrationError) -> String {
        let origin = text.lowercased()
        let problem = SiteRegistrationError("origin \(String(origin.prefix(maxOriginBytes)).debugDescription) must be exactly scheme://host[:port], such as https://shop.example.com (no path, no trailing /)")
        guard origin.utf8.count <= maxOriginBytes else { throw problem }
        let rest: Substring
        if origin.hasPrefix("https://") { rest = origin.dropFirst(8) } else if origin.hasPrefix("http://") { rest = origin.dropFirst(7) } else { throw problem }
        var host = rest
        var port: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw problem }
            host = rest[...close]
            guard IPAddress(String(rest[rest.index(after: rest.startIndex)..<close])) != nil else { throw problem }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw problem }
                port = after.dropFirst()
            }
        } else {
            if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                port = rest[rest.index(after: colon)...]
            }
            do { _ = try validSite(String(host)) } catch { throw problem }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ ("0"..."9").contains($0) }),
                  let number = Int(port), (1...65535).contains(number) else { throw problem }
        }
        return origin
    }

    /// Writes the registration as a JSON object left open, so callers can add members and close it.
    func write(into json: inout JSONWriter) {
        json.raw(#"{"site":"#)
        json.string(site)
        json.raw(#","timezone":"#)
        json.string(timezone)
        json.raw(#","origins":"#)
        json.strings(origins)
        json.raw(#","events_per_second":"#)
        json.integer(eventsPerSecond)
        json.raw(#","events_burst":"#)
        json.integer(eventsBurst)
    }
}
