/// Browser, operating system and device class from a User-Agent string: a small classifier that knows the
/// families that make up nearly all web traffic, checked in an order that respects how agents imitate one another.
public struct UserAgent: Sendable, Equatable {
    public let browser: String
    public let os: String
    public let device: String

    /// A classification given directly (for tests and fixtures).
    static func make(browser: String, os: String, device: String) -> UserAgent {
        UserAgent(browser: browser, os: os, device: device, checked: ())
    }

    private init(browser: String, os: String, device: String, checked: Void) {
        self.browser = browser
        self.os = os
        self.device = device
    }

    public init(_ agent: String) {
        func has(_ token: String) -> Bool { agent.contains(token) }
        browser =
            agent.isEmpty ? "(none)"
            : has("Edg/") || has("EdgA/") || has("EdgiOS/") ? "Edge"
            : has("OPR/") || has("Opera") ? "Opera"
            : has("SamsungBrowser/") ? "Samsung Internet"
            : has("YaBrowser/") ? "Yandex Browser"
            : has("Firefox/") || has("FxiOS/") ? "Firefox"
            : has("CriOS/") || (has("Chrome/") && !has("Chromium/")) ? "Chrome"
            : has("Chromium/") ? "Chromium"
            : has("Safari/") && (has("Version/") || has("Mobile/")) ? "Safari"
            : has("bot") || has("Bot") || has("crawler") || has("Spider") ? "Bot"
            : has("curl/") ? "curl"
            : "Other"
        os =
            agent.isEmpty ? "(none)"
            : has("Windows") ? "Windows"
            : has("iPhone") || has("iPad") || has("iPod") ? "iOS"
            : has("Android") ? "Android"
            : has("CrOS") ? "Chrome OS"
            : has("Mac OS X") || has("Macintosh") ? "macOS"
            : has("Linux") ? "Linux"
            : "Other"
        device =
            agent.isEmpty ? "(none)"
            : has("iPad") || has("Tablet") || (has("Android") && !has("Mobile")) ? "Tablet"
            : has("Mobile") || has("iPhone") || has("iPod") ? "Mobile"
            : "Desktop"
    }
}

extension String {
    func contains(_ other: String) -> Bool {
        guard !other.isEmpty else { return true }
        let haystack = Array(utf8), needle = Array(other.utf8)
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
