import CClarmLinux
import ClarmEvents
import ClarmJSON
import ClarmStorage
import ClarmSystem
import Dispatch
import Foundation
import Synchronization

/// One HTTP request to a destination, built from some events; sent again unchanged on every retry, and by a
/// replay of its dead letter.
struct OutboundMessage: Sendable {
    let url: String
    /// The same on every attempt: `webhook-id` for webhooks.
    let id: String
    let body: [UInt8]
    let headers: [(String, String)]
    let events: Int
    /// Webhooks sign each attempt with its own timestamp.
    let signingSecret: String?
    /// Slack answers errors as text bodies worth showing.
    let kind: Destination.Kind
    /// The (site, visitor) of its events, kept with its dead letter so an erasure finds it.
    let visitors: [ErasureSet.Tombstone]

    /// A request of `destination` carrying `events`: its headers (and token, and signing secret) are the
    /// destination's.
    init(_ destination: Destination, url: String, id: String = "", body: [UInt8], events: [EventRecord]) {
        var seen = Set<ErasureSet.Tombstone>()
        let visitors = events.map { ErasureSet.Tombstone(site: Array($0.site.utf8), visitor: Array($0.visitorID.utf8)) }
        self.init(destination, url: url, id: id, body: body, events: events.count, visitors: visitors.filter { seen.insert($0).inserted })
    }

    private init(_ destination: Destination, url: String, id: String, body: [UInt8], events: Int, visitors: [ErasureSet.Tombstone]) {
        self.url = url
        self.id = id
        self.body = body
        self.events = events
        self.visitors = visitors
        kind = destination.kind
        signingSecret = destination.kind == .webhook ? destination.secret : nil
        headers = [("Content-Type", "application/json")] + (destination.kind == .hubspot ? [("Authorization", "Bearer \(destination.token)")] : [])
    }

    /// A dead letter sent again.
    init(_ destination: Destination, letter: DeadLetter) {
        self.init(destination, url: letter.url, id: letter.id, body: letter.body, events: letter.events, visitors: letter.visitors)
    }
}

/// Delivers one destination's events: reads its feed shard by shard, sends what matches, retries a failed
/// message on the schedule (honouring `Retry-After`) before going on, and acknowledges a batch only once all
/// of it is delivered or dead-lettered. One message in flight at a time, one batch of events in memory.
///
/// Lock order: `Integrations.changes`, then `Integrations.state`, then `replay`, then `deadLetters`, then
/// `status`; `emails` and `lastSlackMessage` are leaves. A lock is only taken while holding locks before it in
/// this order, and no lock is taken while `status` is held (so `describe` reads `replayPending` before it takes
/// `status`).
final class DeliveryWorker: Sendable {
    let destination: Destination
    /// Its change feed; nil while the destination is disabled (it holds no logs back then).
    let feed: ChangeFeed?
    private let client: OutboundClient
    private let options: IntegrationOptions
    private let onGone: @Sendable (Destination, String) -> Void
    let status = Mutex(DeliveryStatus())
    let deadLetters: Mutex<DeadLetterFile>
    /// What a replay queued, sent (same ids, the whole retry schedule) before the feed goes on. A restart resumes
    /// a range replay from its file; a dead-letter replay is not resumed (the letters stay listed until delivered).
    let replay = Mutex(ReplayQueue())
    /// The data directory, where a range replay's progress is saved.
    let directory: String
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let pause = DispatchSemaphore(value: 0)
    /// Emails learned from `identify` events, by visitor (HubSpot), bounded.
    private let emails = Mutex<[String: String]>([:])
    private let lastSlackMessage = Mutex<Int64>(0)

    init(destination: Destination, directory: String, feed: ChangeFeed?, deadLetters: consuming DeadLetterFile,
         client: OutboundClient, options: IntegrationOptions, onGone: @escaping @Sendable (Destination, String) -> Void) {
        self.deadLetters = Mutex(deadLetters)
        self.directory = directory
        self.destination = destination
        self.feed = feed
        self.client = client
        self.options = options
        self.onGone = onGone
    }

    /// The delivery threads' nice value: below the sealer's (10), which keeps the store within its memory.
    static let nice: Int32 = 19

    func start() {
        let thread = Thread { [self] in
            // Delivery never slows ingest: its encoding, signing and sending take only the CPU the event loops
            // leave (a backlog under full load waits in the change feed, within its retention).
            _ = clarm_set_thread_nice(Self.nice)
            if destination.enabled, let feed { run(feed) }
            finished.signal()
        }
        thread.name = "clarm-destination-\(destination.id)"
        thread.start()
    }

    /// Stops after the message in flight (whose batch is then not acknowledged: it is sent again later).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        feed?.wake()
        pause.signal()
        finished.wait()
    }

    private var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Per shard: where the next read starts (past what was delivered), and what is delivered but not yet
    /// acknowledged. Acknowledgements (a cursor file fsynced and renamed) are written at most every
    /// `acknowledgeInterval` ms, and whenever the worker has nothing to do or stops, so a busy feed costs ingest
    /// a few fsyncs a second, not one per batch; a crash repeats at most that interval's deliveries.
    private func run(_ feed: ChangeFeed) {
        var next = [FeedPosition?](repeating: nil, count: feed.shardCount)
        var delivered = [FeedPosition?](repeating: nil, count: feed.shardCount)
        var acknowledged = monotonicMilliseconds()
        // Per shard, the key counts of the batch before (`WebhookSignature.eventKeys`).
        var seen = [[String: Int]](repeating: [:], count: feed.shardCount)
        func acknowledge() {
            for shard in delivered.indices {
                guard let position = delivered[shard] else { continue }
                do throws(StoreError) {
                    try feed.acknowledge(shard: shard, through: position)
                    delivered[shard] = nil
                } catch {
                    note(error: "recording delivery: \(error)")
                }
            }
            acknowledged = monotonicMilliseconds()
        }
        defer { acknowledge() }
        while !isStopped {
            guard sendReplay() else { return }
            var moved = false
            for shard in 0..<feed.shardCount where !isStopped {
                let batch: FeedBatch?
                do throws(StoreError) {
                    batch = try feed.read(shard: shard, after: next[shard], maxEvents: options.readEvents, maxBytes: options.readBytes)
                } catch {
                    note(error: "reading events: \(error)")
                    continue
                }
                guard let batch else { continue }
                guard deliver(batch, seen: &seen[shard]) else { return }
                next[shard] = batch.end
                delivered[shard] = batch.end
                moved = true
            }
            if !moved || monotonicMilliseconds() - acknowledged >= Self.acknowledgeInterval { acknowledge() }
            if !moved { feed.waitForCommit(milliseconds: 1_000) }
        }
    }

    static let acknowledgeInterval: Int64 = 250

    /// Sends the batch's matching events; false when the worker stopped (or the destination went) meanwhile.
    private func deliver(_ batch: FeedBatch, seen: inout [String: Int]) -> Bool {
        let events = batch.events.filter(destination.matches)
        for message in messages(events, keys: WebhookSignature.eventKeys(events, seen: &seen)) {
            guard send(message) else { return false }
        }
        return true
    }

    /// `keys`: the events' `webhook-id` keys (`WebhookSignature.eventKeys`).
    func messages(_ events: [EventRecord], keys: [String]) -> [OutboundMessage] {
        switch destination.kind {
        case .webhook:
            return stride(from: 0, to: events.count, by: destination.batch).map { start in
                let end = min(events.count, start + destination.batch)
                return webhookMessage(Array(events[start..<end]), keys: Array(keys[start..<end]))
            }
        case .slack:
            return stride(from: 0, to: events.count, by: 50).map { start in
                let slice = Array(events[start..<min(events.count, start + 50)])
                return OutboundMessage(destination, url: destination.url, body: SlackMessage.body(slice), events: slice)
            }
        case .hubspot:
            return hubSpotMessages(events)
        }
    }

    func webhookMessage(_ events: [EventRecord], keys: [String]) -> OutboundMessage {
        var json = JSONWriter(capacity: 512)
        if events.count == 1 && destination.batch == 1 {
            json.raw(#"{"type":"#)
            json.string("event." + events[0].event)
            json.raw(#","timestamp":"#)
            json.string(EventPayload.isoTime(milliseconds: events[0].timestamp))
            json.raw(#","data":"#)
            EventPayload.write(events[0], into: &json)
        } else {
            json.raw(#"{"type":"event.batch","timestamp":"#)
            json.string(EventPayload.isoTime(milliseconds: events.last!.timestamp))
            json.raw(#","data":"#)
            json.array(events) { event, json in EventPayload.write(event, into: &json) }
        }
        json.raw("}")
        return OutboundMessage(destination, url: destination.url,
                               id: WebhookSignature.messageID(destination: destination.id, keys: keys),
                               body: json.bytes, events: events)
    }

    private func hubSpotMessages(_ events: [EventRecord]) -> [OutboundMessage] {
        let base = destination.apiBase.hasSuffix("/") ? String(destination.apiBase.dropLast()) : destination.apiBase
        var out: [OutboundMessage] = []
        let identifies = events.filter { $0.event == "identify" }
        for start in stride(from: 0, to: identifies.count, by: HubSpotRequests.maxBatch) {
            let slice = Array(identifies[start..<min(identifies.count, start + HubSpotRequests.maxBatch)])
            if let body = HubSpotRequests.upsert(slice, planProperty: destination.planProperty) {
                out.append(OutboundMessage(destination, url: base + "/crm/v3/objects/contacts/batch/upsert", body: body, events: slice))
            } else {
                skip("identify_without_email", slice.count)
            }
        }
        for event in events where event.event != "identify" {
            let properties = EventPayload.properties(event)
            let known = emails.withLock { $0[event.visitorID] }
            guard let email = properties["email"]?.text ?? known else {
                skip("visitor_not_identified", 1)
                continue
            }
            guard !destination.eventName.isEmpty else {
                skip("no_event_name_configured", 1)
                continue
            }
            out.append(OutboundMessage(destination, url: base + "/events/v3/send",
                                       body: HubSpotRequests.behaviouralEvent(event, email: email, eventName: destination.eventName), events: [event]))
        }
        emails.withLock { emails in
            for event in identifies {
                if let email = EventPayload.properties(event)["email"]?.text {
                    if emails.count >= 100_000 { emails.removeAll() }
                    emails[event.visitorID] = email.lowercased()
                }
            }
        }
        return out
    }

    private func skip(_ reason: String, _ count: Int) {
        status.withLock { $0.skipped[reason, default: 0] += count }
    }

    /// Sends until the receiver accepts, the retries run out (dead letter), or the worker stops.
    /// `replacing`: the dead letter a replay is sending, forgotten once delivered or dead-lettered again.
    func send(_ message: OutboundMessage, replacing letter: UInt64? = nil) -> Bool {
        var attempt = 0
        while !isStopped {
            if message.kind == .slack { spaceSlackMessages() }
            switch attemptOnce(message, through: client) {
            case .delivered:
                status.withLock {
                    $0.delivered += message.events
                    $0.retrying = false
                    $0.lastSuccessMilliseconds = wallClockMilliseconds()
                }
                if let letter { forget(letter) }
                return true
            case .gone(let reason):
                status.withLock { $0.disabledReason = reason }
                onGone(destination, reason)
                return false
            case .failed(let error, let retryAfter):
                note(error: error)
                guard attempt < options.retryDelays.count else {
                    guard deadLetter(message, error: error) else { return false }
                    if let letter { forget(letter) }
                    status.withLock {
                        $0.deadLettered += message.events
                        $0.retrying = false
                    }
                    return true
                }
                let scheduled = options.retryDelays[attempt] * Double.random(in: 0.8...1.2)
                attempt += 1
                status.withLock { $0.retrying = true }
                sleep(seconds: max(scheduled, Double(retryAfter ?? 0)))
            }
        }
        return false
    }

    /// Writes the message to the dead-letter file, trying again (a full disk…) until it is durable: the feed goes
    /// on only past what is delivered or dead-lettered. False when the worker stopped first.
    private func deadLetter(_ message: OutboundMessage, error: String) -> Bool {
        var wait = 1.0
        while !isStopped {
            do throws(IntegrationError) {
                let dropFailed = try deadLetters.withLock { file throws(IntegrationError) in
                    try file.add(id: message.id, url: message.url, events: message.events, error: error,
                                 milliseconds: wallClockMilliseconds(), body: message.body, visitors: message.visitors)
                }
                // The letter is kept: only dropping the oldest past the bound failed.
                if let dropFailed { note(error: "dropping the oldest dead letter: \(dropFailed)") }
                return true
            } catch {
                note(error: "\(error)")
                sleep(seconds: wait)
                wait = min(wait * 2, 60)
            }
        }
        return false
    }

    /// Removes a replayed dead letter from the file; when that fails it stays listed (and may be sent again).
    private func forget(_ letter: UInt64) {
        do throws(IntegrationError) {
            try deadLetters.withLock { file throws(IntegrationError) in try file.remove(letter) }
        } catch {
            note(error: "\(error)")
        }
    }

    enum Attempt {
        case delivered
        case gone(String)
        case failed(String, retryAfter: Int?)
    }

    /// One request: 2xx delivers, 410 disables, anything else (3xx included: redirects are not followed) fails.
    func attemptOnce(_ message: OutboundMessage, through client: OutboundClient) -> Attempt {
        var headers = message.headers
        if let secret = message.signingSecret {
            let timestamp = Int(wallClockMilliseconds() / 1000)
            headers += [("webhook-id", message.id), ("webhook-timestamp", String(timestamp)),
                        ("webhook-signature", WebhookSignature.sign(secret: secret, id: message.id, timestamp: timestamp, body: message.body))]
        }
        let response: OutboundResponse
        do throws(IntegrationError) {
            response = try client.post(message.url, headers: headers, body: message.body)
        } catch {
            status.withLock { $0.failedAttempts += 1 }
            return .failed(error.description, retryAfter: nil)
        }
        if (200..<300).contains(response.status) { return .delivered }
        if response.status == 410 { return .gone("the receiver answered 410 Gone: delivery is off until the destination is enabled again") }
        status.withLock { $0.failedAttempts += 1 }
        let detail = String(response.text.prefix(200))
        return .failed("HTTP \(response.status)\(detail.isEmpty ? "" : ": \(detail)")", retryAfter: response.retryAfter)
    }

    private func spaceSlackMessages() {
        let wait = lastSlackMessage.withLock { last -> Double in
            let now = monotonicMilliseconds()
            let next = last + Int64(options.slackInterval * 1000)
            last = max(now, next)
            return Double(max(0, next - now)) / 1000
        }
        if wait > 0 { sleep(seconds: wait) }
    }

    func note(error: String) {
        status.withLock {
            $0.lastError = error
            $0.lastErrorMilliseconds = wallClockMilliseconds()
        }
    }

    /// Waits `seconds`, or less when the worker is stopped.
    private func sleep(seconds: Double) {
        guard !isStopped else { return }
        _ = pause.wait(timeout: .now() + .milliseconds(Int(min(max(seconds, 0), 7 * 86_400) * 1000)))
    }
}
