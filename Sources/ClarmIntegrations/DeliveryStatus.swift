import ClarmJSON

/// What a destination's delivery has done, for `GET /api/destinations` and `/metrics`.
public struct DeliveryStatus: Sendable {
    /// Events the receiver accepted (2xx).
    public var delivered = 0
    /// Requests that failed (an answer other than 2xx, or none).
    public var failedAttempts = 0
    /// Whether the current message is waiting for a retry.
    public var retrying = false
    /// Events given up on after the last retry, kept in the dead-letter list.
    public var deadLettered = 0
    /// Matching events not sent, by reason (HubSpot: a purchase of a visitor with no known email…).
    public var skipped: [String: Int] = [:]
    public var lastSuccessMilliseconds: Int64?
    public var lastError: String?
    public var lastErrorMilliseconds: Int64?
    /// Why the destination is off, when it is (a `410 Gone`).
    public var disabledReason: String?

    /// `deadLetters`: kept now (the file's, less a replay in progress); `droppedDeadLetters`: past the bound since
    /// start; `replayPending`: messages a replay has still to send.
    func write(into json: inout JSONWriter, backlogBytes: Int, lostEvents: UInt64, lagSeconds: Int?, deadLetters: Int,
               droppedDeadLetters: Int, replayPending: Int) {
        json.raw(#","state":{"delivered":"#)
        json.integer(delivered)
        json.raw(#","failed_attempts":"#)
        json.integer(failedAttempts)
        json.raw(#","retrying":"#)
        json.raw(retrying ? "true" : "false")
        json.raw(#","dead_lettered":"#)
        json.integer(deadLettered)
        json.raw(#","dead_letters_kept":"#)
        json.integer(deadLetters)
        json.raw(#","dead_letters_dropped":"#)
        json.integer(droppedDeadLetters)
        json.raw(#","replay_pending":"#)
        json.integer(replayPending)
        json.raw(#","backlog_bytes":"#)
        json.integer(backlogBytes)
        json.raw(#","lost_events":"#)
        json.integer(Int(lostEvents))
        json.raw(#","lag_seconds":"#)
        if let lagSeconds { json.integer(lagSeconds) } else { json.raw("null") }
        json.raw(#","skipped":{"#)
        for (i, (reason, count)) in skipped.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { json.raw(",") }
            json.string(reason)
            json.raw(":")
            json.integer(count)
        }
        json.raw(#"},"last_success_at":"#)
        if let lastSuccessMilliseconds { json.string(EventPayload.isoTime(milliseconds: lastSuccessMilliseconds)) } else { json.raw("null") }
        json.raw(#","last_error":"#)
        if let lastError { json.string(lastError) } else { json.raw("null") }
        json.raw(#","last_error_at":"#)
        if let lastErrorMilliseconds { json.string(EventPayload.isoTime(milliseconds: lastErrorMilliseconds)) } else { json.raw("null") }
        json.raw(#","disabled_reason":"#)
        if let disabledReason { json.string(disabledReason) } else { json.raw("null") }
        json.raw("}")
    }
}
