import ClarmServer

/// Which client a request comes from: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
///
/// Entries left of the first untrusted one were written by the client or by proxies we know nothing of, so
/// they are never believed. Every `X-Forwarded-For` header counts, in order, each a comma list.
public struct ClientAddressRule: Sendable {
    public let trustedProxies: [AddressRange]

    /// Loopback is always trusted: a proxy on the same machine is the common setup.
    public init(trustedProxies: [AddressRange] = []) {
        self.trustedProxies = AddressRange.loopback + trustedProxies
    }

    public struct ClientAddress: Equatable {
        public let address: IPAddress
        /// Whether the request carried `X-Forwarded-For` (a loopback peer without it is a local tool).
        public let forwarded: Bool
    }

    /// The client of `request`. A malformed entry in the part that is looked at gives the peer: the chain
    /// can no longer be followed, and the peer is the one address known for sure.
    public func client(of request: HTTPRequest) -> ClientAddress {
        let peer = request.peer
        var forwarded = false
        guard trustedProxies.contains(peer) else {
            request.forEachValueLastFirst(of: "x-forwarded-for") { _ in
                forwarded = true
                return false
            }
            return ClientAddress(address: peer, forwarded: forwarded)
        }
        var result = peer
        var leftMost: IPAddress? = nil
        var done = false
        request.forEachValueLastFirst(of: "x-forwarded-for") { value in
            forwarded = true
            var end = value.count
            while end >= 0 && !done {
                var start = end - 1
                while start >= 0 && value[start] != UInt8(ascii: ",") { start -= 1 }
                let entry = Self.trimmed(UnsafeRawBufferPointer(rebasing: value[(start + 1)..<end]))
                end = start
                // `a,,b` and trailing commas: empty entries are skipped, as proxies do.
                if entry.isEmpty { continue }
                guard let address = IPAddress(entry) else {
                    result = peer
                    leftMost = nil
                    done = true
                    break
                }
                if !trustedProxies.contains(address) {
                    result = address
                    leftMost = nil
                    done = true
                    break
                }
                leftMost = address
            }
            return !done
        }
        // Every entry was a trusted proxy: the request started inside; the left-most is where.
        if let leftMost { result = leftMost }
        return ClientAddress(address: result, forwarded: forwarded)
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0, end = bytes.count
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
