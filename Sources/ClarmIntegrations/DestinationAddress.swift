import Foundation
import Glibc

/// Where a destination may send: `http(s)://` URLs whose host resolves only to public addresses, unless
/// private ones are allowed (`--allow-private-destinations`). `check` refuses a destination when it is added
/// or changed; every connection is checked again on the address it is opened to (`OutboundClient`), so a name
/// whose answer changes later (DNS rebinding) still cannot reach an internal address.
enum DestinationAddress {
    static func checkSyntax(_ url: String) throws(IntegrationError) {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = parts.host, !host.isEmpty, parts.user == nil, parts.password == nil else {
            throw .invalid("url must be an http:// or https:// URL with a host, without user or password: \(url)")
        }
    }

    /// Throws when `url`'s host does not resolve, or resolves to an address that is loopback, private, link-local,
    /// unique-local, multicast or unspecified, and `allowPrivate` is false.
    static func check(_ url: String, allowPrivate: Bool) throws(IntegrationError) {
        try checkSyntax(url)
        if allowPrivate { return }
        guard var host = URLComponents(string: url)?.host else { throw .invalid("url has no host") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
            throw .refused("cannot resolve \(host)")
        }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr, isInternal(address) {
                throw .refused("\(host) resolves to a loopback, private or link-local address; "
                               + "start the gateway with --allow-private-destinations to allow it")
            }
            entry = current.pointee.ai_next
        }
    }

    static func isInternal(_ address: UnsafePointer<sockaddr>) -> Bool {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let raw = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            return isInternal(ipv4: raw)
        case AF_INET6:
            let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
            return isInternal(ipv6: bytes)
        default:
            return true
        }
    }

    /// The address as text (`127.0.0.1`, `::1`), for messages.
    static func text(_ address: UnsafePointer<sockaddr>) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(address.pointee.sa_family)
        let written: UnsafePointer<CChar>? = switch family {
        case AF_INET:
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafePointer(to: pointer.pointee.sin_addr) { inet_ntop(family, $0, &buffer, socklen_t(buffer.count)) }
            }
        case AF_INET6:
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafePointer(to: pointer.pointee.sin6_addr) { inet_ntop(family, $0, &buffer, socklen_t(buffer.count)) }
            }
        default: nil
        }
        return written == nil ? "an address of family \(family)" : String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isInternal(ipv4 a: UInt32) -> Bool {
        let blocks: [(UInt32, Int)] = [
            (0x0000_0000, 8), (0x0A00_0000, 8), (0x6440_0000, 10), (0x7F00_0000, 8), (0xA9FE_0000, 16),
            (0xAC10_0000, 12), (0xC000_0000, 24), (0xC0A8_0000, 16), (0xC612_0000, 15), (0xE000_0000, 3),
        ]
        return blocks.contains { base, bits in a >> (32 - UInt32(bits)) == base >> (32 - UInt32(bits)) }
    }

    static func isInternal(ipv6 b: [UInt8]) -> Bool {
        func ipv4(at i: Int) -> UInt32 { UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]) }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        // IPv4 inside IPv6 reaches the IPv4 address: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible),
        // 64:ff9b::a.b.c.d (NAT64) and 2002:aabb:ccdd::/48 (6to4) are judged by the IPv4 address they carry.
        if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xFF && b[11] == 0xFF) || (b[10] == 0 && b[11] == 0)) {
            return isInternal(ipv4: ipv4(at: 12))
        }
        if b[0..<12].elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) { return isInternal(ipv4: ipv4(at: 12)) }
        if b[0] == 0x20 && b[1] == 0x02 { return isInternal(ipv4: ipv4(at: 2)) }
        // fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8 (multicast)
        return b[0] & 0xFE == 0xFC || (b[0] == 0xFE && b[1] & 0x80 == 0x80) || b[0] == 0xFF
    }
}
