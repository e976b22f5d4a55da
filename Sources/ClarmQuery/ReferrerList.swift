import ClarmJSON

/// Snowplow's referer-parser list of referrer hosts, with Clarm's additions (vendor/referer-parser/README.md),
/// embedded in the binary: who a referrer is ("Google", "Hacker News") and what kind of site it is.
/// docs/QUERIES.md (`visit:source`, `visit:channel`) gives the matching rules.
public struct ReferrerList: Sendable {
    /// The list's media: `paid` for a release that lists one; any other medium a later release adds counts as `unknown`.
    public enum Medium: String, Sendable {
        case search, social, email, paid, unknown
    }

    public struct Entry: Sendable, Equatable {
        public let name: String
        public let medium: Medium
    }

    /// Entries by lowercased `host` or `host/path` key; a key listed twice keeps its later entry.
    private var byKey: [String: Entry] = [:]
    /// Entries by lowercased name, for `utm_source=google`; a name under several media keeps the first of
    /// search, social, email, paid, unknown.
    private var byName: [String: Entry] = [:]
    /// No candidate longer than the longest key can match, which bounds a lookup's work whatever the host.
    private var longestKey = 0

    /// The embedded list: referer-parser's data, then Clarm's additions over it.
    public static let embedded: ReferrerList = {
        do {
            return try ReferrerList(documents: [Assets.referersJson, Assets.referersClarmJson])
        } catch {
            preconditionFailure("the embedded referrer list does not parse: \(error)")
        }
    }()

    /// Reads documents of the shape `{medium: {name: {"domains": [key, …], …}, …}, …}`, later ones over earlier.
    init(documents: [[UInt8]]) throws(JSONError) {
        let order: [Medium] = [.search, .social, .email, .paid, .unknown]
        for document in documents {
            let value = try document.withUnsafeBytes { raw in Result { () throws(JSONError) in try JSONValue.parse(raw) } }.get()
            guard case .object(let media) = value else { continue }
            for (mediumName, names) in media {
                let medium = Medium(rawValue: mediumName) ?? .unknown
                guard case .object(let entries) = names else { continue }
                for (name, body) in entries {
                    let entry = Entry(name: name, medium: medium)
                    for domain in body["domains"]?.array ?? [] {
                        guard let key = domain.string?.lowercased(), !key.isEmpty else { continue }
                        byKey[key] = entry
                        longestKey = max(longestKey, key.utf8.count)
                    }
                    let lowered = name.lowercased()
                    if let known = byName[lowered], order.firstIndex(of: known.medium)! <= order.firstIndex(of: medium)! { continue }
                    byName[lowered] = entry
                }
            }
        }
    }

    /// The entry of a referrer: `host` (lowercased, no port) and its URL's `path` (no query or fragment).
    /// For the host and then each parent domain (`www.google.co.uk`, `google.co.uk`, `co.uk`, `uk`), `host + path`
    /// and `host/` + the path's first segment are tried; when none is listed, the host and its parents alone.
    public func entry(host: Substring, path: Substring) -> Entry? {
        let segment = path.hasPrefix("/") ? path.dropFirst().prefix { $0 != "/" } : nil
        let longest = longestCandidate(host)
        var domain = longest
        while !domain.isEmpty {
            if !path.isEmpty, let found = find(domain, path) { return found }
            if let segment, let found = find(domain, "/", segment) { return found }
            domain = parent(of: domain)
        }
        domain = longest
        while !domain.isEmpty {
            if let found = find(domain) { return found }
            domain = parent(of: domain)
        }
        return nil
    }

    /// The host or its longest parent domain that is no longer than the longest key (longer ones cannot match),
    /// found in one pass over the host, so a host of many labels costs time linear in its length.
    private func longestCandidate(_ host: Substring) -> Substring {
        var domain = host
        var length = host.utf8.count
        while length > longestKey {
            guard let dot = domain.firstIndex(of: ".") else { return "" }
            length -= domain[...dot].utf8.count
            domain = domain[domain.index(after: dot)...]
        }
        return domain
    }

    /// The entry whose name is `source` (ignoring case), else the entry of `source` read as a host.
    public func entry(source: String) -> Entry? {
        let lowered = source.lowercased()
        return byName[lowered] ?? entry(host: lowered[...], path: "")
    }

    private func parent(of domain: Substring) -> Substring {
        guard let dot = domain.firstIndex(of: ".") else { return "" }
        return domain[domain.index(after: dot)...]
    }

    private func find(_ parts: Substring...) -> Entry? {
        guard parts.reduce(0, { $0 + $1.utf8.count }) <= longestKey else { return nil }
        return byKey[parts.joined()]
    }
}
