import Foundation
import Testing
@testable import ClarmQuery

@Suite struct ReferrerListTests {
    let list = ReferrerList.embedded

    @Test(arguments: [
        ("www.google.com", "/search", "Google", ReferrerList.Medium.search),
        ("www.google.co.uk", "/", "Google", .search),
        ("news.ycombinator.com", "/item", "Hacker News", .social),
        ("l.facebook.com", "/l.php", "Facebook", .social),
        ("t.co", "/abc", "Twitter", .social),
        ("x.com", "/", "Twitter", .social),
        ("www.linkedin.com", "/feed/", "LinkedIn", .social),
        ("duckduckgo.com", "/", "DuckDuckGo", .search),
        ("mail.google.com", "/mail/u/0/", "Gmail", .email),
        // A host/path entry beats the host's own: Bing Images under bing.com, Google Images under google.com/imgres.
        ("www.bing.com", "/images/search", "Bing Images", .search),
        ("www.google.de", "/imgres", "Google Images", .search),
        // Keys listed twice: the later entry wins, as in the list's own libraries.
        ("news.google.co.uk", "/", "Google News", .search),
        ("wayn.com", "/", "WAYN", .social),
        // The list's `unknown` medium: a known name that is neither search, social nor email.
        ("support.google.com", "/", "Google", .unknown),
    ])
    func findsHostsAndParents(host: String, path: String, name: String, medium: ReferrerList.Medium) {
        #expect(list.entry(host: host[...], path: path[...]) == ReferrerList.Entry(name: name, medium: medium))
    }

    @Test func unknownHostsAndOddInputAreNotListed() {
        for host in ["someblog.example.net", "", ".", "com", "..google.com.", "google", "xn--80ak6aa92e.com"] {
            #expect(list.entry(host: host[...], path: "/") == nil, "\(host)")
        }
    }

    @Test func campaignSourcesByNameOrHost() {
        #expect(list.entry(source: "google")?.medium == .search, "the search Google wins over the unknown one")
        #expect(list.entry(source: "LinkedIn")?.name == "LinkedIn")
        #expect(list.entry(source: "facebook.com")?.name == "Facebook")
        #expect(list.entry(source: "newsletter") == nil)
    }

    /// A hostile host of 200,000 labels costs one pass: only its parents no longer than the list's longest key
    /// are looked up.
    @Test func aHostOfManyLabelsCostsLinearTime() {
        let host = String(repeating: "a.", count: 200_000) + "google.com"
        let path = "/" + String(repeating: "x", count: 100_000)
        let clock = ContinuousClock()
        var found: ReferrerList.Entry?
        let elapsed = clock.measure { found = list.entry(host: host[...], path: path[...]) }
        #expect(found?.name == "Google")
        // A lookup per parent would hash about 40 GB here, minutes of work; one pass is milliseconds. The bound
        // is that far from both so that a loaded machine cannot fail it.
        #expect(elapsed < .seconds(10), "\(elapsed)")
    }

    @Test(arguments: [
        // (utm_source, utm_medium, ad click, referrer host, expected)
        (nil, nil, false, nil, "Direct"),
        (nil, nil, false, "someblog.example.net", "Referral"),
        ("partner", nil, false, nil, "Referral"),
        (nil, nil, false, "www.google.com", "Organic Search"),
        (nil, nil, true, "www.google.com", "Paid Search"),
        (nil, nil, true, nil, "Paid"),
        ("google", "cpc", false, nil, "Paid Search"),
        ("facebook", "paid_social", false, nil, "Paid Social"),
        ("newsletter", "CPM", false, nil, "Paid"),
        ("newsletter", "email", false, nil, "Email"),
        (nil, nil, false, "mail.google.com", "Email"),
        (nil, nil, false, "news.ycombinator.com", "Organic Social"),
        ("twitter", nil, false, "www.google.com", "Organic Social"),
        (nil, "social", false, nil, "Organic Social"),
        (nil, nil, false, "support.google.com", "Referral"),
    ] as [(String?, String?, Bool, String?, String)])
    func channels(source: String?, medium: String?, adClick: Bool, referrer: String?, expected: String) {
        let entry = referrer.flatMap { list.entry(host: $0[...], path: "/") }
        let channel = Channel.of(utmSource: source, utmMedium: medium, adClick: adClick, referrer: entry,
                                 externalReferrer: referrer != nil, list: list)
        #expect(channel == expected)
    }
}
