import Glibc

/// An IPv4 or IPv6 address in 16 bytes: IPv4 is kept as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so an IPv4 client
/// reaching an IPv6 socket and the same client on an IPv4 socket are one address. No allocation.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, big-endian.
    public let high: UInt64
    /// The last 8 bytes, big-endian.
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address as a number (127.0.0.1 is 0x7F00_0001).
    public init(ipv4: UInt32) {
        self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(ipv4))
    }

    /// `::`, the address of a peer that has none (a Unix socket, a test's request).
    public static let unspecified = IPAddress(high: 0, low: 0)

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// What per-client limits count as one client: an IPv4 address, or an IPv6 address's /64 (the prefix one
    /// subscriber or host is usually given, so cycling through its addresses does not escape the limits).
    public var client: IPAddress { isIPv4 ? self : IPAddress(high: high, low: 0) }

    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        isIPv4 ? (low >> 24) & 0xFF == 127 : (high == 0 && low == 1)
    }

    /// The address a socket call filled in; nil for families other than IPv4 and IPv6.
    public init?(_ storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            self.init(ipv4: UInt32(bigEndian: address.sin_addr.s_addr))
        case AF_INET6:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            self = withUnsafeBytes(of: address.sin6_addr) { Self(bytes: $0) }
        default:
            return nil
        }
    }

    /// 16 bytes in network order.
    init(bytes: UnsafeRawBufferPointer) {
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
        self.init(high: high, low: low)
    }

    /// Parses a numeric address exactly as written, `203.0.113.7` or `2001:db8::1` (no brackets, port or zone);
    /// nil for anything else.
    public init?(_ text: UnsafeRawBufferPointer) {
        // inet_pton wants a C string; the longest textual IPv6 address has 45 bytes.
        guard !text.isEmpty, text.count <= 45 else { return nil }
        let isIPv6 = text.contains(UInt8(ascii: ":"))
        let parsed: IPAddress? = withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buffer in
            let cString = buffer.baseAddress!
            cString.copyMemory(from: text.baseAddress!, byteCount: text.count)
            cString.storeBytes(of: 0, toByteOffset: text.count, as: UInt8.self)
            let result = cString + 48
            let family = isIPv6 ? AF_INET6 : AF_INET
            guard inet_pton(family, cString.assumingMemoryBound(to: CChar.self), result) == 1 else { return nil }
            if isIPv6 { return IPAddress(bytes: UnsafeRawBufferPointer(start: result, count: 16)) }
            return IPAddress(ipv4: UInt32(bigEndian: result.loadUnaligned(as: UInt32.self)))
        }
        guard let parsed else { return nil }
        self = parsed
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    public var description: String {
        if isIPv4 {
            let v4 = UInt32(truncatingIfNeeded: low)
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        var bytes = (high.bigEndian, low.bigEndian)
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = withUnsafeBytes(of: &bytes) { inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(cString: text)
    }
}

/// A block of addresses in CIDR notation: `10.0.0.0/8`, `2001:db8::/32`, or one address (`/32`, `/128`).
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    public let base: IPAddress
    /// Leading bits that must match, counted over the 128-bit form (an IPv4 /8 is 96 + 8).
    public let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/BITS`; nil when either part is malformed or the bits are out of range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        var bits = maximum
        if parts.count == 2 {
            guard parts[1].allSatisfy({ ("0"..."9").contains($0) }), let value = Int(parts[1]), value <= maximum else { return nil }
            bits = value
        }
        prefixLength = address.isIPv4 ? 96 + bits : bits
        let (highMask, lowMask) = Self.masks(prefixLength)
        base = IPAddress(high: address.high & highMask, low: address.low & lowMask)
    }

    /// 127.0.0.0/8 and ::1: the addresses trusted unless configured otherwise.
    public static let loopback = [AddressRange("127.0.0.0/8")!, AddressRange("::1/128")!]

    public func contains(_ address: IPAddress) -> Bool {
        let (highMask, lowMask) = Self.masks(prefixLength)
        return address.high & highMask == base.high && address.low & lowMask == base.low
    }

    private static func masks(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? .max : bits == 0 ? 0 : ~(UInt64.max >> UInt64(bits))
        let low: UInt64 = bits >= 128 ? .max : bits <= 64 ? 0 : ~(UInt64.max >> UInt64(bits - 64))
        return (high, low)
    }

    public var description: String {
        base.isIPv4 && prefixLength >= 96 ? "\(base)/\(prefixLength - 96)" : "\(base)/\(prefixLength)"
    }
}

extension Array where Element == AddressRange {
    public func contains(_ address: IPAddress) -> Bool {
        contains { $0.contains(address) }
    }
}
