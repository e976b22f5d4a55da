/// Who may read the data behind the private routes (the query API, the dashboard, metrics): which `Host` names
/// they answer to, which browser origins may read them cross-origin, and which API keys they take.
public struct GatewayAccess: Sendable {
    public let apiKeys: APIKeys
    /// The listener is reachable from other machines: then the query API needs a key.
    public let exposed: Bool
    /// Host names (lowercase, no port, IPv6 literals in brackets) the private routes answer to.
    let hosts: Set<[UInt8]>
    /// Origins (`scheme://host[:port]`) whose pages may read the private routes, compared byte for byte.
    let dashboardOrigins: [[UInt8]]

    /// - Parameters:
    ///   - listenHost: the address or name the server listens on; always answered to, like `localhost`,
    ///     `127.0.0.1` and `[::1]`.
    ///   - publicHosts: further names the private routes answer to (the gateway's names behind a proxy).
    ///   - dashboardOrigins: origins whose pages may read the private routes.
    ///   - exposed: whether the listener is reachable from other machines.
    public init(apiKeys: [String] = [], listenHost: String = "127.0.0.1", publicHosts: [String] = [],
                dashboardOrigins: [String] = [], exposed: Bool = false) {
        self.apiKeys = APIKeys(apiKeys)
        self.exposed = exposed
        let names = ["localhost", "127.0.0.1", "[::1]", listenHost] + publicHosts
        hosts = Set(names.compactMap { name in
            // A bare IPv6 literal (`::1`, as given to --host) is bracketed in a Host header.
            let text = name.contains(":") && !name.hasPrefix("[") ? "[" + name + "]" : name
            return Array(text.utf8).withUnsafeBytes { Self.hostName($0) }
        })
        self.dashboardOrigins = dashboardOrigins.map { Array($0.utf8) }
    }

    /// The query API refuses every request: it would be open to other machines without a key.
    var queryAPIDisabled: Bool { exposed && apiKeys.isEmpty }

    /// Whether `authority` (a `Host` value or an absolute-form target's authority) names this gateway.
    func allowsHost(_ authority: UnsafeRawBufferPointer) -> Bool {
        guard let name = Self.hostName(authority) else { return false }
        return hosts.contains(name)
    }

    func allowsDashboardOrigin(_ origin: UnsafeRawBufferPointer) -> Bool {
        dashboardOrigins.contains { $0.elementsEqual(origin) }
    }

    /// The host of an authority, lowercased, without its port or a trailing dot; nil when it is malformed.
    /// `Example.COM.:8080` → `example.com`, `[::1]:80` → `[::1]`.
    static func hostName(_ authority: UnsafeRawBufferPointer) -> [UInt8]? {
        var name = Array(authority)
        var port: ArraySlice<UInt8> = []
        if name.first == UInt8(ascii: "[") {
            guard let close = name.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            port = name[(close + 1)...]
            name.removeSubrange((close + 1)...)
        } else if let colon = name.firstIndex(of: UInt8(ascii: ":")) {
            port = name[colon...]
            name.removeSubrange(colon...)
        }
        if let first = port.first {
            guard first == UInt8(ascii: ":"), port.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        }
        if name.last == UInt8(ascii: ".") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        for i in name.indices {
            let byte = name[i]
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "/"), byte != UInt8(ascii: "@") else { return nil }
            if (0x41...0x5A).contains(byte) { name[i] = byte | 0x20 }
        }
        return name
    }
}
