/// A URL cut so that `origin + path + rest` is the URL as sent: `origin` is `scheme://authority`,
/// `path` has no query or fragment, `rest` is `?query#fragment`. A URL without `://` has an empty origin.
public struct URLParts: Sendable {
    public var origin: Range<Int>
    public var path: Range<Int>
    public var rest: Range<Int>

    public init(_ url: UnsafeRawBufferPointer) {
        var i = 0
        var pathStart = 0
        while i < url.count, url[i] != UInt8(ascii: ":"), url[i] != UInt8(ascii: "/"), url[i] != UInt8(ascii: "?"), url[i] != UInt8(ascii: "#") { i += 1 }
        if i > 0, i + 2 < url.count, url[i] == UInt8(ascii: ":"), url[i + 1] == UInt8(ascii: "/"), url[i + 2] == UInt8(ascii: "/") {
            i += 3
            while i < url.count, url[i] != UInt8(ascii: "/"), url[i] != UInt8(ascii: "?"), url[i] != UInt8(ascii: "#") { i += 1 }
            pathStart = i
        }
        var pathEnd = pathStart
        while pathEnd < url.count, url[pathEnd] != UInt8(ascii: "?"), url[pathEnd] != UInt8(ascii: "#") { pathEnd += 1 }
        origin = 0..<pathStart
        path = pathStart..<pathEnd
        rest = pathEnd..<url.count
    }

    /// The value of a query parameter in `rest` (`?a=b&c=d#f`), percent- and `+`-decoded; nil when absent.
    public static func queryParameter(_ name: String, in rest: some Collection<UInt8>) -> String? {
        let bytes = Array(rest)
        guard bytes.first == UInt8(ascii: "?") else { return nil }
        let query = bytes[1...].prefix { $0 != UInt8(ascii: "#") }
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            if decode(parts[0]) == name { return parts.count > 1 ? decode(parts[1]) : "" }
        }
        return nil
    }

    /// Percent- and `+`-decodes one component of a query string; a path segment (`plusIsSpace: false`) is
    /// only percent-decoded, since `+` means a space in query strings alone.
    public static func decode(_ bytes: some Collection<UInt8>, plusIsSpace: Bool = true) -> String {
        var out: [UInt8] = []
        var iterator = Array(bytes)[...]
        while let c = iterator.popFirst() {
            if plusIsSpace, c == UInt8(ascii: "+") {
                out.append(0x20)
            } else if c == UInt8(ascii: "%"), iterator.count >= 2,
                      let high = hex(iterator[iterator.startIndex]), let low = hex(iterator[iterator.startIndex + 1]) {
                out.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
