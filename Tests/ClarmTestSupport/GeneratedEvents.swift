import ClarmEvents

/// Events with the awkward cases in them: visits crossing midnight and the range's ends, events without a
/// session id around the 30-minute gap, identify after anonymous events, several currencies, amounts that
/// are not numbers (`"n/a"`, `"19.99"`, `"nan"`), referrers on the site's own host, another site's events.
public func generateEvents(seed: UInt64, visitors: Int) -> [EventRecord] {
    var random = SplitMix64(seed: seed)
    func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    let pages = ["/", "/pricing", "/blog/post-1", "/blog/post-2", "/checkout", "/thank-you", "/docs"]
    // Campaigns and referrers of every channel (docs/QUERIES.md, visit:channel): search, social, email, paid,
    // an unknown blog, direct; names the list knows by name or by host; ad click ids and fbclid.
    let rests = ["", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=nov%20launch", "?utm_source=google&utm_medium=cpc",
                 "?ref=x#top", "?utm_source=&utm_campaign=empty-source", "?gclid=Cj0abc", "?fbclid=IwAR0",
                 "?utm_source=facebook&utm_medium=paid_social", "?utm_source=LinkedIn", "?utm_medium=social",
                 "?utm_source=partner-blog&utm_medium=referral", "?msclkid=5f1"]
    let referrers = ["", "", "https://www.google.com/search?q=x", "https://news.ycombinator.com/item?id=1",
                     "https://shop.example.com/pricing", "https://WWW.Bing.com/", "https://www.google.co.uk/",
                     "https://duckduckgo.com/", "https://l.facebook.com/l.php?u=x", "https://t.co/abc", "https://x.com/",
                     "https://www.linkedin.com/feed/", "https://mail.google.com/mail/u/0/", "https://someblog.example.net/post/1",
                     "https://www.bing.com/images/search?q=x", "https://images.google.com/"]
    let agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                  "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", ""]
    let start: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z
    var events: [EventRecord] = []
    for v in 0..<visitors {
        var t = start + Int64(random.next() % (3 * 86_400_000))
        let agent = pick(agents)
        let site = v % 11 == 10 ? "other.example.org" : "shop.example.com"
        for s in 0..<Int(1 + random.next() % 4) {
            let session = random.next() % 4 == 0 ? "" : "s\(v)-\(s)"
            for e in 0..<Int(1 + random.next() % 6) {
                let name = e == 0 ? "page_view" : pick(["page_view", "page_view", "widget_open", "click", "purchase", "goal_achieved", "identify"])
                let properties: String = switch name {
                case "purchase": pick([#"{"amount":49.5,"currency":"USD","plan":"pro","orderId":"o-\#(v)-\#(e)"}"#,
                                       #"{"amount":10,"currency":"EUR","plan":"starter"}"#, #"{"amount":"n/a","currency":"USD"}"#,
                                       #"{"amount":7.25}"#, #"{"amount":"19.99","currency":"EUR"}"#, #"{"amount":"nan","currency":"USD"}"#])
                case "goal_achieved": #"{"goal":"signup","value":3}"#
                case "identify": #"{"email":"u\#(v)@example.com","name":"User \#(v)","plan":"pro"}"#
                default: random.next() % 3 == 0 ? #"{"plan":"free"}"# : ""
                }
                let rest = e == 0 ? pick(rests) : ""
                events.append(EventRecord(
                    timestamp: t, receivedAt: 0, event: name, visitorID: "visitor-\(v)", sessionID: session, eventID: "",
                    url: "https://\(v % 7 == 0 ? "Shop.Example.com:443" : "shop.example.com")\(pick(pages))\(rest)",
                    referrer: e == 0 ? pick(referrers) : "", userAgent: agent, properties: properties, site: site))
                let spread: UInt64 = session.isEmpty ? 3_000_000 : 1_200_000
                t += 1_000 + Int64(random.next() % spread)
            }
            let pause: UInt64 = 108_000_000
            t += Int64(random.next() % pause)
        }
    }
    return events
}

