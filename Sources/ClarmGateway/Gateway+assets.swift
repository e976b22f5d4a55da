import ClarmHTTP
import ClarmServer
import ClarmStorage

/// Files served from the binary — `GET /clarm.js` (the loader) and `GET /` (the dashboard) — with strong
/// ETags so browsers revalidate cheaply.
extension Gateway {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: StaticString
        let cacheControl: StaticString
        let etag: [UInt8]

        init(_ bytes: [UInt8], contentType: StaticString, cacheControl: StaticString) {
            self.bytes = bytes
            self.contentType = contentType
            self.cacheControl = cacheControl
            let hash = bytes.withUnsafeBytes { FNV1a.hash($0) }
            let hex = String(hash, radix: 16)
            etag = Array(("\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\"").utf8)
        }
    }

    /// An hour of freshness for the loader, which sites embed on every page; the dashboard revalidates each time.
    static let loader = Asset(Assets.clarmJs, contentType: "application/javascript; charset=utf-8", cacheControl: "public, max-age=3600")
    static let dashboard = Asset(Assets.dashboardHtml, contentType: "text/html; charset=utf-8", cacheControl: "no-cache")

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
        response.header("Access-Control-Allow-Origin", "*")
        if fresh {
            response.noBody()
        } else {
            asset.bytes.withUnsafeBytes { response.body($0, contentType: asset.contentType) }
        }
    }
}
