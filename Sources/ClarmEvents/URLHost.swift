/// The host of an absolute URL, as the default `site` of an event.
public enum URLHost {
    /// Returns the range of the host in `url` (`scheme://[userinfo@]host[:port]/…`), without port or IPv6
    /// brackets' port; nil when the URL is not absolute or has an empty host.
    public static func find(in url: UnsafeRawBufferPointer) -> Range<Int>? {
        var i = 0
        while i < url.count, isSchemeByte(url[i], first: i == 0) { i += 1 }
        guard i > 0, i + 3 <= url.count, url[i] == UInt8(ascii: ":"),
              url[i + 1] == UInt8(ascii: "/"), url[i + 2] == UInt8(ascii: "/")
        else { return nil }
        var start = i + 3
        var end = start
        while end < url.count {
            let c = url[end]
            if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { break }
            end += 1
        }
        // userinfo ends at the last "@" of the authority
        var k = end
        while k > start {
            k -= 1
            if url[k] == UInt8(ascii: "@") {
                start = k + 1
                break
            }
        }
        if start < end, url[start] == UInt8(ascii: "[") {
            var close = start
            while close < end, url[close] != UInt8(ascii: "]") { close += 1 }
            guard close < end else { return nil }
            return start..<(close + 1)
        }
        var hostEnd = start
        while hostEnd < end, url[hostEnd] != UInt8(ascii: ":") { hostEnd += 1 }
        return hostEnd > start ? start..<hostEnd : nil
    }

    private static func isSchemeByte(_ c: UInt8, first: Bool) -> Bool {
        switch c {
        case 0x41...0x5A, 0x61...0x7A: true
        case 0x30...0x39, 0x2B, 0x2D, 0x2E: !first
        default: false
        }
    }
}
