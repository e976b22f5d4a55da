import ClarmHTTP
import ClarmServer
import ClarmStorage

/// `GET /clarm.js`: the loader, from the binary, with a strong ETag so browsers revalidate cheaply.
extension Gateway {
    static let loader = Assets.clarmJs
    static let loaderETag: [UInt8] = {
        let hash = loader.withUnsafeBytes { FNV1a.hash($0) }
        let hex = String(hash, radix: 16)
        return Array(("\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\"").utf8)
    }()

    func loaderScript(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        let etag = Self.loaderETag
        let fresh = request.header("if-none-match").map { value in
            value.split(separator: UInt8(ascii: ",")).contains { candidate in
                candidate.drop { $0 == 0x20 || $0 == 0x09 }.elementsEqual(etag) || candidate.elementsEqual(etag)
            } || value.elementsEqual("*".utf8)
        } ?? false
        response.start(fresh ? .notModified : .ok)
        etag.withUnsafeBytes { response.header("ETag", $0) }
        // An hour of freshness, then a cheap revalidation; sites embed the script on every page.
        response.header("Cache-Control", "public, max-age=3600")
        response.header("Access-Control-Allow-Origin", "*")
        if fresh {
            response.noBody()
        } else {
            Self.loader.withUnsafeBytes { response.body($0, contentType: "application/javascript; charset=utf-8") }
        }
    }
}
