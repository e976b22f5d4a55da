import ClarmHTTP
import ClarmServer
import ClarmStorage

/// Files served from the binary — `GET /clarm.js` (the loader), `GET /` (the dashboard) and its icon — with strong
/// ETags so browsers revalidate cheaply.
extension Gateway {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: StaticString
        let cacheControl: StaticString
        let etag: [UInt8]
        /// Whether pages of any origin may read it (the loader, which sites embed).
        let anyOrigin: Bool
        /// Further headers: the dashboard's security policy.
        let headers: [(name: StaticString, value: [UInt8])]

        init(_ bytes: [UInt8], contentType: StaticString, cacheControl: StaticString, anyOrigin: Bool = false,
             headers: [(name: StaticString, value: [UInt8])] = []) {
            self.bytes = bytes
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.anyOrigin = anyOrigin
            self.headers = headers
            let hash = bytes.withUnsafeBytes { FNV1a.hash($0) }
            let hex = String(hash, radix: 16)
            etag = Array(("\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\"").utf8)
        }
    }

    /// An hour of freshness for the loader, which sites embed on every page; the dashboard revalidates each time.
    static let loader = Asset(Assets.clarmJs, contentType: "application/javascript; charset=utf-8", cacheControl: "public, max-age=3600",
                              anyOrigin: true)
    /// The dashboard runs only its own inline code, talks only to its origin, is never framed and sends no referrer.
    static let dashboard = Asset(Assets.dashboardHtml, contentType: "text/html; charset=utf-8", cacheControl: "no-cache", headers: [
        ("Content-Security-Policy", ContentSecurityPolicy.forPage(Assets.dashboardHtml)),
        ("X-Frame-Options", Array("DENY".utf8)),
        ("Referrer-Policy", Array("no-referrer".utf8)),
    ])
    static let favicon = Asset(Assets.faviconSvg, contentType: "image/svg+xml", cacheControl: "public, max-age=86400")

    func serve(_ asset: Asset, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        let etag = asset.etag
        let fresh = request.header("if-none-match").map { value in
            value.split(separator: UInt8(ascii: ",")).contains { candidate in
                candidate.drop { $0 == 0x20 || $0 == 0x09 }.elementsEqual(etag)
            } || value.elementsEqual("*".utf8)
        } ?? false
        response.start(fresh ? .notModified : .ok)
        etag.withUnsafeBytes { response.header("ETag", $0) }
        response.header("Cache-Control", asset.cacheControl)
        (asset.anyOrigin ? CrossOrigin.any : crossOrigin).write(&response)
        for (name, value) in asset.headers { value.withUnsafeBytes { response.header(name, $0) } }
        if fresh {
            response.noBody()
        } else {
            asset.bytes.withUnsafeBytes { response.body($0, contentType: asset.contentType) }
        }
    }
}
