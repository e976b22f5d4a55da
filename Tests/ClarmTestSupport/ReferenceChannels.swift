import Foundation

/// `visit:source` and `visit:channel` written from docs/QUERIES.md alone, apart from the engine: the vendored
/// referrer list read with JSONSerialization, URLs with URLComponents.
enum ReferenceChannels {
    struct Listed {
        var name: String
        var medium: String
    }

    /// Key (`host` or `host/path`, lowercased) → entries; a key with two different entries in the vendored
    /// list depends on the file's order, which JSONSerialization does not keep: such keys are left out and
    /// `listed` refuses them.
    static let keys: [String: [Listed]] = {
        var keys: [String: [Listed]] = [:]
        for file in ["referers.json", "referers-clarm.json"] {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Sources/ClarmQuery/Assets/\(file)")
            let data = try! Data(contentsOf: url)
            let media = try! JSONSerialization.jsonObject(with: data) as! [String: [String: [String: Any]]]
            var fromFile: [String: [Listed]] = [:]
            for (medium, names) in media {
                for (name, body) in names {
                    for domain in body["domains"] as! [String] {
                        fromFile[domain.lowercased(), default: []].append(Listed(name: name, medium: medium))
                    }
                }
            }
            // The additions file replaces what the list says of its hosts.
            keys.merge(fromFile) { _, new in new }
        }
        return keys
    }()

    /// The lowercased names and their media.
    static let names: [String: Set<String>] = {
        var names: [String: Set<String>] = [:]
        for entries in keys.values { for entry in entries { names[entry.name.lowercased(), default: []].insert(entry.medium) } }
        return names
    }()

    static func lookup(_ key: String) -> Listed? {
        guard let entries = keys[key] else { return nil }
        let distinct = Set(entries.map { "\($0.medium)|\($0.name)" })
        precondition(distinct.count == 1, "\(key) is listed twice; its entry depends on the list's order")
        return entries[0]
    }

    /// The list's entry for a referrer URL: the host then each parent domain with the full path, then with the
    /// path's first segment; failing all of those, the host then each parent domain alone.
    static func listed(host: String, path: String) -> Listed? {
        var domains: [String] = []
        var labels = host.split(separator: ".", omittingEmptySubsequences: false)
        while !labels.isEmpty {
            domains.append(labels.joined(separator: "."))
            labels.removeFirst()
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for domain in domains {
            if !path.isEmpty, let hit = lookup(domain + path) { return hit }
            if segments.count > 1, let hit = lookup(domain + "/" + segments[1]) { return hit }
        }
        for domain in domains { if let hit = lookup(domain) { return hit } }
        return nil
    }

    /// The medium a `utm_source` names: a name in the list (search before social, email, unknown), else a host.
    static func medium(ofSource source: String) -> String? {
        let lowered = source.lowercased()
        if let media = names[lowered] {
            return ["search", "social", "email", "paid", "unknown"].first { media.contains($0) }
        }
        return listed(host: lowered, path: "")?.medium
    }

    static func source(utmSource: String?, referrer: URLComponents?, external: Bool) -> String {
        if let utmSource, !utmSource.isEmpty { return utmSource }
        guard external, let host = referrer?.host?.lowercased() else { return "Direct / None" }
        if let hit = listed(host: host, path: referrer?.percentEncodedPath ?? "") { return hit.name }
        return host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
    }

    static func channel(url: URLComponents?, referrer: URLComponents?, external: Bool) -> String {
        func parameter(_ name: String) -> String? { url?.queryItems?.first { $0.name == name }.map { $0.value ?? "" } }
        let medium = (parameter("utm_medium") ?? "").lowercased()
        let source = parameter("utm_source") ?? ""
        let referrerMedium = external ? referrer?.host.flatMap { listed(host: $0.lowercased(), path: referrer?.percentEncodedPath ?? "")?.medium } : nil
        let kind = (source.isEmpty ? nil : Self.medium(ofSource: source)) ?? referrerMedium
        let adClick = ["gclid", "gbraid", "wbraid", "dclid", "msclkid", "twclid", "ttclid", "li_fat_id"]
            .contains { !(parameter($0) ?? "").isEmpty }
        let paid = adClick || ["cpc", "ppc", "cpm", "cpv", "cpa", "paid", "retargeting"].contains(medium)
            || medium.hasPrefix("paid") || kind == "paid"
        if paid { return kind == "search" ? "Paid Search" : kind == "social" ? "Paid Social" : "Paid" }
        if ["email", "e-mail", "e_mail", "newsletter"].contains(medium) || kind == "email" { return "Email" }
        if kind == "search" { return "Organic Search" }
        if kind == "social" || ["social", "social-network", "social-media", "social_network", "social_media", "sm"].contains(medium) {
            return "Organic Social"
        }
        return external || !source.isEmpty ? "Referral" : "Direct"
    }
}
