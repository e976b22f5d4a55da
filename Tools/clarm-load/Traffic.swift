import ClarmEvents

/// A small deterministic generator (SplitMix64), so the same seed gives the same traffic.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Appends bytes without going through `String`, so writing a request allocates nothing once warm.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func put(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func put(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    mutating func decimal(_ value: Int, width: Int = 0) {
        var digits = 0
        var v = value
        repeat { digits += 1; v /= 10 } while v > 0
        for _ in digits..<max(width, digits) { bytes.append(0x30) }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0x30, count: digits))
        v = value
        for i in stride(from: start + digits - 1, through: start, by: -1) {
            bytes[i] = UInt8(v % 10) + 0x30
            v /= 10
        }
    }

    mutating func hex(_ value: UInt64, width: Int) {
        for shift in stride(from: (width - 1) * 4, through: 0, by: -4) {
            let digit = UInt8((value >> UInt64(shift)) & 0xF)
            bytes.append(digit < 10 ? digit + 0x30 : digit + 0x57)
        }
    }

    /// `2026-11-05T08:19:19.685Z`
    mutating func timestamp(_ millis: Int64) {
        let days = Int(millis / 86_400_000)
        let (y, m, d) = Timestamp.civilFromDays(days)
        let ms = Int(millis % 86_400_000)
        decimal(y, width: 4); put("-"); decimal(m, width: 2); put("-"); decimal(d, width: 2); put("T")
        decimal(ms / 3_600_000, width: 2); put(":"); decimal(ms / 60_000 % 60, width: 2); put(":")
        decimal(ms / 1000 % 60, width: 2); put("."); decimal(ms % 1000, width: 3); put("Z")
    }
}

/// Realistic tracking events: visitors with sessions of page views over typical URLs (some with UTM
/// parameters), referrers and user agents, widget activity, CTA clicks, identify, purchases in several
/// currencies and goals, spread over a number of days. Deterministic for a seed and a stream number.
struct Traffic {
    static let pages: [StaticString] = ["/", "/pricing", "/features", "/blog", "/blog/how-we-scaled-ingest", "/docs",
                                        "/docs/getting-started", "/integrations/hubspot", "/customers", "/checkout",
                                        "/checkout/payment", "/thank-you", "/products/pro", "/signup", "/login", "/about"]
    static let landings: [StaticString] = ["", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=nov-launch",
                                           "?utm_source=google&utm_medium=cpc&utm_campaign=brand", "?utm_source=linkedin&utm_medium=social"]
    static let referrers: [StaticString] = ["", "", "https://www.google.com/", "https://www.bing.com/", "https://news.ycombinator.com/",
                                            "https://www.linkedin.com/feed/", "https://t.co/abc123"]
    static let agents: [StaticString] = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    ]
    static let prices: [(StaticString, StaticString)] = [("29.0", "USD"), ("99.0", "USD"), ("89.0", "EUR"), ("79.0", "GBP"), ("499.0", "USD")]

    var random: SplitMix64
    let seed: UInt64
    let stream: UInt64
    let site: [UInt8]
    let visitors: Int
    let start: Int64
    let span: Int64
    private var sequence: UInt64 = 0

    init(seed: UInt64, stream: UInt64, site: String, visitors: Int, days: Int, end: Int64) {
        random = SplitMix64(state: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        self.seed = seed
        self.stream = stream
        self.site = Array(site.utf8)
        self.visitors = max(1, visitors)
        span = Int64(max(1, days)) * 86_400_000
        start = end - span
    }

    /// Appends one event as a JSON object.
    mutating func event(into out: inout ByteWriter) {
        sequence += 1
        let visitor = UInt64(random.below(visitors))
        let roll = random.below(1000)
        let page = Self.pages[random.below(Self.pages.count)]
        let landing = random.below(4) == 0
        out.put(#"{"event":""#)
        switch roll {
        case 0..<800: out.put("page_view")
        case 800..<850: out.put("widget_open")
        case 850..<890: out.put("widget_message")
        case 890..<930: out.put("click")
        case 930..<950: out.put("identify")
        case 950..<970: out.put("purchase")
        default: out.put("goal_achieved")
        }
        out.put(#"","visitor_id":""#)
        out.hex(visitor &* 0x9E37_79B9_7F4A_7C15, width: 16)
        // A visitor's events in the same two hours share a session.
        let time = start + Int64(random.next() % UInt64(span))
        out.put(#"","session_id":""#)
        out.hex(visitor &* 31 &+ UInt64(time / 7_200_000), width: 12)
        out.put(#"","timestamp":""#)
        out.timestamp(time)
        out.put(#"","url":"https://"#)
        out.put(site)
        out.put(page)
        if landing { out.put(Self.landings[random.below(Self.landings.count)]) }
        out.put(#"","referrer":""#)
        if landing { out.put(Self.referrers[random.below(Self.referrers.count)]) }
        out.put(#"","user_agent":""#)
        out.put(Self.agents[Int(visitor % UInt64(Self.agents.count))])
        // Unique per seed, stream and event: a rerun of the same seed sends the same events (and ids) again.
        out.put(#"","event_id":""#)
        out.hex(seed, width: 8)
        out.hex(stream, width: 4)
        out.hex(sequence, width: 12)
        out.put(#"","site":""#)
        out.put(site)
        out.put(#"""#)
        switch roll {
        case 850..<890: out.put(#","properties":{"text":"Do you have a free trial?"}"#)
        case 890..<930: out.put(#","properties":{"element":"book-demo","page":"/pricing"}"#)
        case 930..<950:
            out.put(#","properties":{"email":"user"#)
            out.decimal(Int(visitor))
            out.put(#"@example.com","plan":"pro"}"#)
        case 950..<970:
            let price = Self.prices[random.below(Self.prices.count)]
            out.put(#","properties":{"amount":"#)
            out.put(price.0)
            out.put(#","currency":""#)
            out.put(price.1)
            out.put(#"","plan":"pro"}"#)
        case 970..<1000: out.put(#","properties":{"goal":"signup","value":1}"#)
        default: break
        }
        out.put("}")
    }

    /// Appends a whole `POST /api/track` request carrying `count` events (an array when more than one).
    mutating func request(events count: Int, host: [UInt8], into out: inout ByteWriter, scratch: inout ByteWriter) {
        scratch.bytes.removeAll(keepingCapacity: true)
        if count > 1 { scratch.put("[") }
        for i in 0..<count {
            if i > 0 { scratch.put(",") }
            event(into: &scratch)
        }
        if count > 1 { scratch.put("]") }
        out.put("POST /api/track HTTP/1.1\r\nHost: ")
        out.put(host)
        out.put("\r\nContent-Type: text/plain\r\nContent-Length: ")
        out.decimal(scratch.bytes.count)
        out.put("\r\n\r\n")
        out.put(scratch.bytes)
    }
}
