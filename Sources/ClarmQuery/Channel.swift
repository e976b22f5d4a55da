/// The channel a visit came through (`visit:channel`), from its first event's campaign parameters and
/// referrer; docs/QUERIES.md lists the rules in the order they are applied here.
enum Channel {
    /// `utm_medium` values (compared lowercased) that mean a paid campaign, besides any that start with `paid`.
    static let paidMedia: Set<String> = ["cpc", "ppc", "cpm", "cpv", "cpa", "paid", "retargeting"]
    /// `utm_medium` values (lowercased) that mean an email.
    static let emailMedia: Set<String> = ["email", "e-mail", "e_mail", "newsletter"]
    /// `utm_medium` values (lowercased) that mean a social network.
    static let socialMedia: Set<String> = ["social", "social-network", "social-media", "social_network", "social_media", "sm"]
    /// URL parameters that ad platforms add to ad clicks only (Google, Microsoft, X, TikTok, LinkedIn Ads).
    /// `fbclid` is not one: Meta adds it to every outbound link, paid or not.
    static let adClickIDs = ["gclid", "gbraid", "wbraid", "dclid", "msclkid", "twclid", "ttclid", "li_fat_id"]

    /// - Parameters:
    ///   - utmSource, utmMedium: the first event's campaign parameters, nil when absent.
    ///   - adClick: whether its URL carries one of `adClickIDs` with a value.
    ///   - referrer: the list's entry for its outside referrer, if any; `externalReferrer`: whether it has one.
    static func of(utmSource: String?, utmMedium: String?, adClick: Bool,
                   referrer: ReferrerList.Entry?, externalReferrer: Bool, list: ReferrerList) -> String {
        let medium = utmMedium?.lowercased() ?? ""
        let source = utmSource ?? ""
        // What the campaign names, when the list knows it, else what the referrer is.
        let kind = (source.isEmpty ? nil : list.entry(source: source))?.medium ?? referrer?.medium
        if adClick || paidMedia.contains(medium) || medium.hasPrefix("paid") || kind == .paid {
            switch kind {
            case .search: return "Paid Search"
            case .social: return "Paid Social"
            default: return "Paid"
            }
        }
        if emailMedia.contains(medium) || kind == .email { return "Email" }
        if kind == .search { return "Organic Search" }
        if kind == .social || socialMedia.contains(medium) { return "Organic Social" }
        if externalReferrer || !source.isEmpty { return "Referral" }
        return "Direct"
    }
}
