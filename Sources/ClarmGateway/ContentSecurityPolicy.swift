import Crypto
import Foundation

/// The dashboard's `Content-Security-Policy`: nothing but its own inline script and style, identified by hash,
/// and requests to its own origin. The hashes are taken from the page as embedded, when the gateway starts, so
/// an edit of the page can never leave it running under a policy that blocks it.
enum ContentSecurityPolicy {
    static func forPage(_ html: [UInt8]) -> [UInt8] {
        let scripts = inlineBlocks("script", in: html).map(source).joined(separator: " ")
        let styles = inlineBlocks("style", in: html).map(source).joined(separator: " ")
        let policy = [
            "default-src 'none'",
            "script-src " + (scripts.isEmpty ? "'none'" : scripts),
            "style-src " + (styles.isEmpty ? "'none'" : styles),
            "connect-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
        return Array(policy.joined(separator: "; ").utf8)
    }

    /// `'sha256-…'` of a block's text, as CSP Level 3 §8.4 matches inline elements.
    private static func source(_ text: ArraySlice<UInt8>) -> String {
        "'sha256-" + Data(SHA256.hash(data: text)).base64EncodedString() + "'"
    }

    /// The texts of the `<tag …>…</tag>` elements without a `src` attribute, in order.
    static func inlineBlocks(_ tag: String, in html: [UInt8]) -> [ArraySlice<UInt8>] {
        let open = Array("<\(tag)".utf8), close = Array("</\(tag)>".utf8)
        var blocks: [ArraySlice<UInt8>] = []
        var position = html.startIndex
        while let start = find(open, in: html, from: position) {
            let afterName = start + open.count
            // `<scripts>` or `<style-x>` are other elements.
            guard afterName < html.endIndex, [UInt8(ascii: ">"), 0x20, 0x09, 0x0A, 0x0D].contains(html[afterName]) else {
                position = afterName
                continue
            }
            guard let tagEnd = html[afterName...].firstIndex(of: UInt8(ascii: ">")),
                  let end = find(close, in: html, from: tagEnd + 1) else { break }
            let attributes = String(decoding: html[afterName..<tagEnd], as: UTF8.self).lowercased()
            if !attributes.contains("src=") { blocks.append(html[(tagEnd + 1)..<end]) }
            position = end + close.count
        }
        return blocks
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
