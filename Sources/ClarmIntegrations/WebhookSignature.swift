import Crypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` + base64 of HMAC-SHA256 over
/// `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the base64-decoded part of the secret after `whsec_`.
enum WebhookSignature {
    static func sign(secret: String, id: String, timestamp: Int, body: [UInt8]) -> String {
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6))) ?? Data())
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// A delivery's `webhook-id`: the same for the same events however often they are sent, so receivers
    /// deduplicate by it. `keys` are the events' `event_id`s, or their place in the log when they have none.
    static func messageID(destination: String, keys: [String]) -> String {
        var hash = SHA256()
        hash.update(data: Array(destination.utf8))
        for key in keys {
            hash.update(data: [0])
            hash.update(data: Array(key.utf8))
        }
        return "msg_" + hash.finalize().prefix(16).map { String($0, radix: 16).leftPadded(2) }.joined()
    }
}
