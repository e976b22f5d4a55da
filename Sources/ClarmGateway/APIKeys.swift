import Crypto

/// The keys query clients may present, compared in constant time.
///
/// Keys are kept only as HMAC-SHA256 digests under a secret drawn at start. A presented key is MACed the same
/// way and its digest compared with every stored digest over all 32 bytes, with no early exit. How long the check
/// takes depends only on the presented key's length (which its sender knows) and on how many keys there are: never
/// on how much of a key matched, nor on the lengths of the configured keys.
public struct APIKeys: Sendable {
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`).
    private let secret: [UInt8]
    private let digests: [[UInt8]]

    public init(_ keys: [String]) {
        let secret = SymmetricKey(size: .bits256)
        self.secret = secret.withUnsafeBytes { Array($0) }
        digests = keys.map { Array(HMAC<SHA256>.authenticationCode(for: Array($0.utf8), using: secret)) }
    }

    public var isEmpty: Bool { digests.isEmpty }

    /// Whether `presented` is one of the keys.
    public func accepts(_ presented: UnsafeRawBufferPointer) -> Bool {
        let code = HMAC<SHA256>.authenticationCode(for: presented, using: SymmetricKey(data: secret))
        return code.withUnsafeBytes { code in
            var matches: UInt8 = 0
            for digest in digests {
                var difference: UInt8 = 0
                for i in 0..<digest.count { difference |= digest[i] ^ code[i] }
                // 1 when equal, 0 otherwise, without a branch on the secret-derived bytes.
                matches |= UInt8(truncatingIfNeeded: (Int(difference) - 1) >> 8) & 1
            }
            return matches != 0
        }
    }
}
