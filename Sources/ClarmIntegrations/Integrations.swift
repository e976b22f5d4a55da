import ClarmEvents
import ClarmJSON
import ClarmStorage
import ClarmSystem
import Dispatch
import Synchronization

/// The destinations of a data directory and their delivery workers (README, "Integrations"). Each
/// destination reads the store's change feed as consumer `dest-<id>`, so what it has delivered survives any
/// crash: at worst the messages in flight are sent again, with the same `webhook-id`s.
///
/// Changes are saved (fsync) before they return; call them off the event loop.
public final class Integrations: Sendable {
    public let directory: String
    let store: Store
    let options: IntegrationOptions
    /// How requests go; each worker keeps its own client (and so its connection) built from it.
    private let outbound: OutboundSettings
    private let state = Mutex<[String: DeliveryWorker]>([:])
    /// Serializes changes (file rewrite, consumer creation, worker restart).
    private let changes = Mutex(())
    private let report: @Sendable (String) -> Void

    /// Loads `DATA/destinations.json`, removes feed consumers of destinations that no longer exist, and starts
    /// delivering.
    public init(directory: String, store: Store, options: IntegrationOptions = IntegrationOptions(),
                report: @escaping @Sendable (String) -> Void = { _ in }) throws(IntegrationError) {
        self.directory = directory
        self.store = store
        self.options = options
        self.report = report
        outbound = OutboundSettings(options: options, authorities: try options.caFile.map { file throws(IntegrationError) in try TrustedAuthorities.load(file: file) })
        let destinations = try DestinationFile.load(directory: directory)
        // Consumers of destinations removed, or disabled, by a process that died before deleting them.
        let known = Set(destinations.filter(\.enabled).map(\.consumer))
        for consumer in store.feedConsumers where consumer.hasPrefix("dest-") && !known.contains(consumer) {
            try? store.removeFeed(consumer: consumer)
        }
        // Dead letters and replays of destinations removed by a process that died before deleting them.
        let ids = Set(destinations.map(\.id))
        for name in (try? PosixFileSystem().list("\(directory)/\(DeadLetterFile.directoryName)")) ?? []
        where name.hasSuffix(".log") && !ids.contains(String(name.dropLast(4))) {
            deleteFile { () throws(IntegrationError) in try DeadLetterFile.delete(directory: directory, destination: String(name.dropLast(4))) }
        }
        for name in (try? PosixFileSystem().list("\(directory)/\(ReplayFile.directoryName)")) ?? []
        where name.hasSuffix(".replay") && !ids.contains(String(name.dropLast(7))) {
            deleteFile { () throws(IntegrationError) in try ReplayFile.delete(directory: directory, destination: String(name.dropLast(7))) }
        }
        for destination in destinations { try start(destination) }
        // Erasures a crash kept from reaching the dead letters (the store's tombstones stay until its purge ends).
        let erased = Set(store.snapshot().flatMap(\.erased.tombstones))
        if !erased.isEmpty {
            do throws(IntegrationError) { try erase(erased) } catch {
                report("dead letters of erased visitors: \(error); erase them again")
            }
        }
    }

    /// Forgets a visitor the store has just erased (`DELETE /api/visitors/{id}`): every destination's dead
    /// letters holding its events are dropped and their file rewritten, and its events leave the replays queued
    /// (README, "Erasure"). Throws when a file could not be rewritten: the erasure is to be asked again.
    public func erase(site: String, visitor: String) throws(IntegrationError) {
        try erase([ErasureSet.Tombstone(site: Array(site.utf8), visitor: Array(visitor.utf8))])
    }

    /// Under `changes`: a destination being replaced (its worker stopped, its file about to be opened again) is
    /// erased from before or after, never missed.
    private func erase(_ erased: Set<ErasureSet.Tombstone>) throws(IntegrationError) {
        try changes.withLock { _ throws(IntegrationError) in
            for worker in state.withLock({ Array($0.values) }) { try worker.erase(erased) }
        }
    }

    /// Starts a destination's worker with its dead letters: an enabled one with its change feed (created at the
    /// commit point when it has none) and the range replay it had in progress; a disabled one without, its
    /// consumer deleted so it holds no logs back.
    private func start(_ destination: Destination, status: DeliveryStatus? = nil) throws(IntegrationError) {
        var feed: ChangeFeed? = nil
        do throws(StoreError) {
            if destination.enabled {
                feed = try store.feed(consumer: destination.consumer)
            } else {
                try store.removeFeed(consumer: destination.consumer)
            }
        } catch {
            throw .notSaved("cannot \(destination.enabled ? "start" : "release") the change feed of \(destination.id): \(error)")
        }
        let deadLetters = try DeadLetterFile(directory: directory, destination: destination.id,
                                             maxLetters: options.maxDeadLetters, maxBytes: options.maxDeadLetterBytes)
        let worker = DeliveryWorker(destination: destination, directory: directory, feed: feed, deadLetters: deadLetters,
                                    client: try OutboundClient(settings: outbound), options: options) { [weak self] gone, reason in
            self?.disable(gone.id, reason: reason)
        }
        if let status { worker.status.withLock { $0 = status } }
        if destination.enabled { resumeReplay(worker) }
        state.withLock { $0[destination.id] = worker }
        worker.start()
    }

    /// Queues the rest of a range replay a previous run had not finished; a replay that cannot go on is reported
    /// and dropped.
    private func resumeReplay(_ worker: DeliveryWorker) {
        let id = worker.destination.id
        do throws(IntegrationError) {
            guard let progress = try ReplayFile.load(directory: directory, destination: id) else { return }
            let events = try ReplayRange(from: progress.from, to: progress.to)
                .events(in: store, after: progress, matching: worker.destination.matches)
            _ = try worker.replay(events, progress: progress, resumed: true)
        } catch {
            report("destination \(id): the replay in progress is dropped: \(error)")
            deleteFile { () throws(IntegrationError) in try ReplayFile.delete(directory: directory, destination: id) }
        }
    }

    /// A file left behind is reported; the next start deletes it (a removed destination's) or finds it again.
    private func deleteFile(_ delete: () throws(IntegrationError) -> Void) {
        do throws(IntegrationError) { try delete() } catch { report("\(error)") }
    }

    public func stop() {
        let workers = state.withLock { state in defer { state.removeAll() }; return Array(state.values) }
        for worker in workers { worker.stop() }
    }

    func worker(_ id: String) -> DeliveryWorker? { state.withLock { $0[id] } }

    var destinations: [Destination] {
        state.withLock { $0.values.map(\.destination) }.sorted { $0.id < $1.id }
    }

    // MARK: Changes

    /// Creates a destination from a request body; answers it with its secret (shown this once).
    public func add(_ body: JSONValue) throws(IntegrationError) -> [UInt8] {
        try changes.withLock { _ throws(IntegrationError) in
            var all = destinations
            guard all.count < options.maxDestinations else { throw .full(options.maxDestinations) }
            let destination = try Destination.parse(body, id: nil)
            try checkAddress(destination)
            all.append(destination)
            try start(destination)
            do throws(IntegrationError) {
                try DestinationFile.save(all, directory: directory)
            } catch {
                retire(destination.id, removeFeed: true)
                throw error
            }
            var json = JSONWriter(capacity: 512)
            destination.write(into: &json, secrets: true)
            json.raw("}")
            return json.bytes
        }
    }

    /// Replaces a destination's settings; secrets not given are kept. Delivery goes on from where it was.
    public func replace(_ id: String, _ body: JSONValue) throws(IntegrationError) -> [UInt8] {
        try changes.withLock { _ throws(IntegrationError) in
            var all = destinations
            guard let index = all.firstIndex(where: { $0.id == id }) else { throw .notFound(id) }
            let previous = all[index]
            let destination = try Destination.parse(body, id: id, existing: previous)
            try checkAddress(destination)
            all[index] = destination
            let status = state.withLock { $0[id]?.status.withLock { $0 } }
            retire(id, removeFeed: false)
            do throws(IntegrationError) {
                // Dead letters are requests already built: they stay only while they still go where they went.
                // They go durably before the new settings are saved, so no crash leaves old requests (to the old
                // URL) beside new credentials. When saving fails they are gone and the old settings go on.
                if !previous.sendsLike(destination) {
                    try DeadLetterFile.delete(directory: directory, destination: id)
                    try ReplayFile.delete(directory: directory, destination: id)
                }
                try DestinationFile.save(all, directory: directory)
            } catch {
                try start(previous, status: status)
                throw error
            }
            try start(destination, status: status)
            return describe(destination)
        }
    }

    public func remove(_ id: String) throws(IntegrationError) {
        try changes.withLock { _ throws(IntegrationError) in
            var all = destinations
            guard all.contains(where: { $0.id == id }) else { throw .notFound(id) }
            all.removeAll { $0.id == id }
            try DestinationFile.save(all, directory: directory)
            retire(id, removeFeed: true)
            deleteFile { () throws(IntegrationError) in try DeadLetterFile.delete(directory: directory, destination: id) }
            deleteFile { () throws(IntegrationError) in try ReplayFile.delete(directory: directory, destination: id) }
        }
    }

    /// Refuses at once what every delivery would refuse (SSRF); deliveries check again, as names move.
    private func checkAddress(_ destination: Destination) throws(IntegrationError) {
        try DestinationAddress.check(destination.kind == .hubspot ? destination.apiBase : destination.url,
                                     allowPrivate: options.allowPrivateDestinations)
    }

    /// Stops a destination's worker (a replay it was sending is dropped: its dead letters stay in their file).
    private func retire(_ id: String, removeFeed: Bool) {
        guard let worker = state.withLock({ $0.removeValue(forKey: id) }) else { return }
        worker.stop()
        if removeFeed {
            do throws(StoreError) { try store.removeFeed(consumer: worker.destination.consumer) } catch {
                report("destination \(id): \(error); its logs are kept until the next start removes the consumer")
            }
        }
    }

    /// After a `410 Gone`: the destination is saved as disabled, and its consumer deleted (docs/FORMAT.md,
    /// "Destinations"): enabled again, it receives events from then on.
    /// Runs off the worker's thread: a change in progress may be waiting for that worker to stop.
    private func disable(_ id: String, reason: String) {
        report("destination \(id): \(reason)")
        DispatchQueue.global().async { [self] in
            changes.withLock { _ in
                var all = destinations
                guard let index = all.firstIndex(where: { $0.id == id }), all[index].enabled else { return }
                all[index].enabled = false
                do throws(IntegrationError) { try DestinationFile.save(all, directory: directory) } catch {
                    report("destination \(id): \(error)")
                }
                let status = state.withLock { $0[id]?.status.withLock { $0 } }
                retire(id, removeFeed: false)
                do throws(IntegrationError) { try start(all[index], status: status) } catch {
                    report("destination \(id): \(error)")
                }
            }
        }
    }

    // MARK: Reading

    /// `{"destinations":[…]}` with each one's delivery state; no secrets.
    public func list() -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.raw(#"{"destinations":["#)
        for (i, destination) in destinations.enumerated() {
            if i > 0 { json.raw(",") }
            json.bytes += describe(destination)
        }
        json.raw("]}")
        return json.bytes
    }

    public func show(_ id: String) throws(IntegrationError) -> [UInt8] {
        guard let destination = destinations.first(where: { $0.id == id }) else { throw .notFound(id) }
        return describe(destination)
    }

    private func describe(_ destination: Destination) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        destination.write(into: &json, secrets: false)
        if let worker = state.withLock({ $0[destination.id] }) {
            let feed = worker.feed?.state() ?? []
            let oldestPending = feed.filter { $0.backlogBytes > 0 }.isEmpty ? nil : worker.status.withLock { $0.lastSuccessMilliseconds }
            let lag = oldestPending.map { Int(max(0, wallClockMilliseconds() - $0) / 1000) }
            let letters = worker.listedDeadLetters
            let dropped = worker.deadLetters.withLock { $0.dropped }
            // Read before taking `status`: no other lock is taken while it is held (`DeliveryWorker`, lock order).
            let pending = worker.replayPending
            worker.status.withLock { status in
                status.write(into: &json, backlogBytes: feed.reduce(0) { $0 + $1.backlogBytes },
                             lostEvents: feed.reduce(0) { $0 + $1.lostEvents }, lagSeconds: lag, deadLetters: letters.count,
                             droppedDeadLetters: dropped, replayPending: pending)
            }
            json.raw(#","dead_letters":"#)
            json.array(letters.suffix(20)) { letter, json in
                json.raw(#"{"id":"#)
                json.string(letter.id)
                json.raw(#","events":"#)
                json.integer(letter.events)
                json.raw(#","error":"#)
                json.string(letter.error)
                json.raw(#","at":"#)
                json.string(EventPayload.isoTime(milliseconds: letter.milliseconds))
                json.raw("}")
            }
        }
        json.raw("}")
        return json.bytes
    }

    /// Sends a sample event to the destination now, once, and answers with the receiver's status.
    public func test(_ id: String) throws(IntegrationError) -> [UInt8] {
        guard let worker = self.worker(id) else { throw .notFound(id) }
        let destination = worker.destination
        let now = wallClockMilliseconds()
        let sample = EventRecord(timestamp: now, receivedAt: now, event: destination.kind == .hubspot ? "identify" : "purchase",
                                 visitorID: "clarm-test-visitor", eventID: "clarm-test-\(now)",
                                 url: "https://\(destination.site)/checkout?utm_source=clarm-test",
                                 properties: destination.kind == .hubspot
                                     ? #"{"email":"clarm-test@example.com","name":"Clarm Test","company":"Clarm"}"#
                                     : #"{"amount":49.5,"currency":"USD","plan":"pro","email":"clarm-test@example.com"}"#,
                                 site: destination.site)
        guard let message = worker.messages([sample], keys: [WebhookSignature.eventKey(sample)]).first else {
            throw .refused("this destination sends nothing for a sample event")
        }
        var json = JSONWriter(capacity: 256)
        // Its own client: the worker's is busy on the worker's thread.
        switch worker.attemptOnce(message, through: try OutboundClient(settings: outbound)) {
        case .delivered: json.raw(#"{"delivered":true"#)
        case .gone(let reason):
            json.raw(#"{"delivered":false,"error":"#)
            json.string(reason)
        case .failed(let error, _):
            json.raw(#"{"delivered":false,"error":"#)
            json.string(error)
        }
        json.raw("}")
        return json.bytes
    }

    /// Queues the dead-lettered messages again, unchanged (same `webhook-id`), ahead of the feed: the worker sends
    /// them with the whole retry schedule. Answers at once with how many were queued.
    public func replayDeadLetters(_ id: String) throws(IntegrationError) -> [UInt8] {
        guard let worker = self.worker(id) else { throw .notFound(id) }
        guard worker.destination.enabled else { throw .conflict("destination \(id) is disabled: enable it to replay its dead letters") }
        guard let queued = worker.requeueDeadLetters() else {
            throw .conflict("an earlier replay is still being sent (\(worker.replayPending) left)")
        }
        var json = JSONWriter(capacity: 64)
        json.raw(#"{"requeued_messages":"#)
        json.integer(queued.messages)
        json.raw(#","requeued_events":"#)
        json.integer(queued.events)
        json.raw("}")
        return json.bytes
    }

    /// Queues the destination's stored events of a time range (`ReplayRange`) ahead of the feed, built as the first
    /// time: a webhook sending one event per request sends them with the same `webhook-id`s. Answers at once; the
    /// replay's progress is saved (`ReplayFile`), so a restart goes on with it. The store is read only once no
    /// other replay is being read or sent, and for at most `timeoutMilliseconds`.
    public func replayRange(_ id: String, _ body: JSONValue, timeoutMilliseconds: Int64 = 30_000) throws(IntegrationError) -> [UInt8] {
        guard let worker = self.worker(id) else { throw .notFound(id) }
        guard worker.destination.enabled else { throw .conflict("destination \(id) is disabled: enable it to replay") }
        let range = try ReplayRange(body)
        guard worker.reserveReplay() else {
            throw .conflict("an earlier replay is still being sent (\(worker.replayPending) left)")
        }
        let events: [ReplayEvent]
        do throws(IntegrationError) {
            events = try range.events(in: store, deadline: monotonicMilliseconds() + timeoutMilliseconds,
                                      matching: worker.destination.matches)
        } catch {
            worker.releaseReplay()
            throw error
        }
        guard try worker.replay(events, progress: ReplayProgress(from: range.from, to: range.to)) else {
            throw .conflict("an earlier replay is still being sent (\(worker.replayPending) left)")
        }
        var json = JSONWriter(capacity: 64)
        json.raw(#"{"replayed_events":"#)
        json.integer(events.count)
        json.raw("}")
        return json.bytes
    }

    public struct MetricRow: Sendable {
        public let id: String
        public let type: String
        public let delivered: Int
        public let failed: Int
        public let deadLettered: Int
        public let backlogBytes: Int
        public let lost: Int
        public let droppedDeadLetters: Int
    }

    /// Each destination's counters, for `/metrics`.
    public var metricRows: [MetricRow] {
        state.withLock { Array($0.values) }.sorted { $0.destination.id < $1.destination.id }.map { worker in
            let status = worker.status.withLock { $0 }
            let feed = worker.feed?.state() ?? []
            return MetricRow(id: worker.destination.id, type: worker.destination.kind.rawValue, delivered: status.delivered,
                             failed: status.failedAttempts, deadLettered: status.deadLettered,
                             backlogBytes: feed.reduce(0) { $0 + $1.backlogBytes }, lost: Int(feed.reduce(0) { $0 + $1.lostEvents }),
                             droppedDeadLetters: worker.deadLetters.withLock { $0.dropped })
        }
    }
}
