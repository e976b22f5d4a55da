import ClarmEvents
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
    /// deduplicate by it. `keys` are the events' `eventKey`s.
    static func messageID(destination: String, keys: [String]) -> String {
        var hash = SHA256()
        hash.update(data: Array(destination.utf8))
        for key in keys {
            hash.update(data: [0])
            hash.update(data: Array(key.utf8))
        }
        return "msg_" + hash.finalize().prefix(16).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// An event's identity for `webhook-id`s: a hash of what the store keeps of it in the log and in segments
    /// alike (site, visitor, session, timestamp, name, URL, referrer, user agent, properties), so the first
    /// delivery, a retry, a resend after a restart and a replay of a time range carry the same id. `event_id` is
    /// left out: segments do not keep it, and an event whose id was deduplicated at ingest is stored once anyway.
    /// Two events identical in all of these fields, to the millisecond, share this hash: `eventKeys` tells them
    /// apart by their rank among the identical ones.
    static func eventKey(_ event: EventRecord) -> String {
        var hash = SHA256()
        func field(_ bytes: some Sequence<UInt8>) {
            let value = Array(bytes)
            withUnsafeBytes(of: UInt32(value.count).littleEndian) { hash.update(bufferPointer: $0) }
            hash.update(data: value)
        }
        for text in [event.site, event.visitorID, event.sessionID, event.event, event.url, event.referrer, event.userAgent, event.properties] {
            field(text.utf8)
        }
        withUnsafeBytes(of: event.timestamp.littleEndian) { hash.update(bufferPointer: $0) }
        return hash.finalize().prefix(16).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// The key of the `occurrence`-th (from 0) of identical events: the first keeps the plain hash, a repeat has
    /// `-<n>` appended, so identical events sent apart (a `/api/track` batch without timestamps gives its
    /// events one reception time) still get different `webhook-id`s, the same in the feed and in a replay.
    static func eventKey(hash: String, occurrence: Int) -> String {
        occurrence == 0 ? hash : "\(hash)-\(occurrence)"
    }

    /// The keys of events in the order they are stored: each one's rank among identical ones counted from
    /// `seen` (the counts of the batch before, so identical events split across two reads are still told apart),
    /// which is left holding this batch's counts. The counts start again after a restart (README, "Integrations").
    static func eventKeys(_ events: [EventRecord], seen: inout [String: Int]) -> [String] {
        var counts: [String: Int] = [:]
        let keys = events.map { event in
            let hash = eventKey(event)
            let occurrence = counts[hash] ?? seen[hash] ?? 0
            counts[hash] = occurrence + 1
            return eventKey(hash: hash, occurrence: occurrence)
        }
        seen = counts
        return keys
    }
}
