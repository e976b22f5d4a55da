import CCurl
import ClarmStorage

/// `--destination-ca-file`: certificate authorities trusted for `https://` destinations besides the system's
/// (README, "Integrations"), for a receiver whose certificate a private authority signed, or a self-signed one.
enum TrustedAuthorities {
    static let maxFileBytes = 1 << 20
    static let maxSystemBundleBytes = 16 << 20

    /// The system's bundle (the one libcurl was built to use), then the PEM certificates of `file`.
    static func load(file: String) throws(IntegrationError) -> [UInt8] {
        let files = PosixFileSystem()
        let size: Int
        let extra: [UInt8]
        do throws(StorageIOError) {
            size = try files.size(file)
            extra = size <= maxFileBytes ? try files.readAll(file) : []
        } catch {
            throw .invalid("--destination-ca-file: \(error)")
        }
        guard size <= maxFileBytes else { throw .invalid("--destination-ca-file \(file) is larger than 1 MiB") }
        guard containsCertificate(extra) else {
            throw .invalid("--destination-ca-file \(file) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        var bundle: [UInt8] = []
        if let system = systemBundlePath, files.exists(system),
           let size = try? files.size(system), size <= maxSystemBundleBytes, let bytes = try? files.readAll(system) {
            bundle = bytes + [UInt8(ascii: "\n")]
        }
        return bundle + extra
    }

    static func containsCertificate(_ bytes: [UInt8]) -> Bool {
        let marker = Array("-----BEGIN CERTIFICATE-----".utf8)
        guard bytes.count >= marker.count else { return false }
        return (0...(bytes.count - marker.count)).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }
    }

    /// Where libcurl looks for the system's authorities by default (`/etc/ssl/certs/ca-certificates.crt` on Debian).
    private static var systemBundlePath: String? {
        _ = OutboundClient.global
        guard let easy = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(easy) }
        var path: UnsafeMutablePointer<CChar>? = nil
        guard clarm_curl_get_string(easy, CURLINFO_CAINFO, &path) == CURLE_OK, let path else { return nil }
        return String(cString: path)
    }
}
