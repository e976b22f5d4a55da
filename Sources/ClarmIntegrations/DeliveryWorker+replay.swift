import ClarmEvents
import ClarmStorage
import Synchronization

/// What a replay sends ahead of the feed: its items, and for a replay of a time range, how far it went.
struct ReplayQueue: Sendable {
    enum Item: Sendable {
        /// A dead letter, removed from its file once delivered or dead-lettered again.
        case letter(DeadLetter)
        /// Events of a replayed range, in order; the range's progress moves past the last once all are sent.
        case events([ReplayEvent])
    }

    var items: [Item] = []
    /// The range replay's progress, saved in `ReplayFile` after each chunk of events; nil for dead letters.
    var range: ReplayProgress?
    /// Whether the first item is being sent (it leaves the queue once sent).
    var sending = false
    /// Whether a range replay is reading its events from the store, to be queued.
    var scanning = false

    /// Whether another replay must wait.
    var isBusy: Bool { !items.isEmpty || scanning }

    /// Dead letters and events still to send.
    var pending: Int {
        items.reduce(0) { total, item in
            switch item {
            case .letter: total + 1
            case .events(let events): total + events.count
            }
        }
    }

    static let chunk = 100
}

/// Replays: dead letters and the events of a time range, sent ahead of the feed (README, "Integrations").
extension DeliveryWorker {
    /// Moves every dead letter to the front of delivery: `(messages, events)`; nil while an earlier replay is still
    /// being sent (so what waits stays bounded by the dead-letter list's own limits). The letters stay in their
    /// file until delivered.
    func requeueDeadLetters() -> (messages: Int, events: Int)? {
        let moved = replay.withLock { queue -> (messages: Int, events: Int)? in
            guard !queue.isBusy else { return nil }
            let letters = deadLetters.withLock { file in
                let letters = file.letters.filter { !file.queued.contains($0.seq) }
                file.queued.formUnion(letters.map(\.seq))
                return letters
            }
            queue.items = letters.map { .letter($0) }
            return (letters.count, letters.reduce(0) { $0 + $1.events })
        }
        feed?.wake()
        return moved
    }

    /// Holds the queue for a range replay while its events are read (`replay` then queues them, or
    /// `releaseReplay` gives it up); false while another replay is being read or sent.
    func reserveReplay() -> Bool {
        replay.withLock { queue in
            guard !queue.isBusy else { return false }
            queue.scanning = true
            return true
        }
    }

    func releaseReplay() {
        replay.withLock { $0.scanning = false }
    }

    /// Queues the events of a range replay in chunks, its progress saved first (unless `resumed`: it is already);
    /// false while an earlier replay is still being sent. Ends a reservation.
    func replay(_ events: [ReplayEvent], progress: ReplayProgress, resumed: Bool = false) throws(IntegrationError) -> Bool {
        let queued = try replay.withLock { queue throws(IntegrationError) -> Bool in
            guard queue.items.isEmpty else { return false }
            queue.scanning = false
            if !resumed { try ReplayFile.save(progress, directory: directory, destination: destination.id) }
            queue.range = progress
            queue.items = stride(from: 0, to: events.count, by: ReplayQueue.chunk).map { start in
                .events(Array(events[start..<min(events.count, start + ReplayQueue.chunk)]))
            }
            finishIfDone(&queue)
            return true
        }
        feed?.wake()
        return queued
    }

    /// Dead letters and events a replay has still to send.
    var replayPending: Int { replay.withLock { $0.pending } }

    /// The dead letters not being replayed, oldest first.
    var listedDeadLetters: [DeadLetter] {
        deadLetters.withLock { file in file.letters.filter { !file.queued.contains($0.seq) } }
    }

    /// Sends what a replay queued, in order, each item leaving the queue once delivered or dead-lettered; false when
    /// the worker stopped meanwhile (a range replay then resumes from its file at the next start).
    func sendReplay() -> Bool {
        while let item = replay.withLock({ queue in
            queue.sending = !queue.items.isEmpty
            return queue.items.first
        }) {
            switch item {
            case .letter(let letter):
                guard send(OutboundMessage(destination, letter: letter), replacing: letter.seq) else { return false }
            case .events(let events):
                for message in messages(events.map(\.event), keys: events.map(\.key)) {
                    guard send(message) else { return false }
                }
            }
            let moved = replay.withLock { queue -> ReplayProgress? in
                queue.items.removeFirst()
                queue.sending = false
                defer { finishIfDone(&queue) }
                guard case .events(let events) = item, let last = events.last, var range = queue.range else { return nil }
                range.move(past: last)
                queue.range = range
                return queue.items.isEmpty ? nil : range
            }
            // Saved outside the lock: a failure is noted in `status`, after `replay` in the lock order, and the
            // file's fsync need not hold up `replayPending` readers.
            if let moved { saveProgress(moved) }
        }
        return true
    }

    /// A range replay with nothing left: its file goes.
    private func finishIfDone(_ queue: inout ReplayQueue) {
        guard queue.items.isEmpty, queue.range != nil else { return }
        queue.range = nil
        // Left behind, the next start replays the rest of the range once more (same ids).
        do throws(IntegrationError) { try ReplayFile.delete(directory: directory, destination: destination.id) } catch {
            note(error: "\(error)")
        }
    }

    /// When saving fails the replay goes on; a restart then repeats what was sent since the last save.
    private func saveProgress(_ range: ReplayProgress) {
        do throws(IntegrationError) { try ReplayFile.save(range, directory: directory, destination: destination.id) } catch {
            note(error: "\(error)")
        }
    }

    /// Forgets erased visitors: their events leave the replay queued (letters holding them too) and their dead
    /// letters leave their file, which is rewritten. What is in flight is sent as it was built.
    func erase(_ erased: Set<ErasureSet.Tombstone>) throws(IntegrationError) {
        try replay.withLock { queue throws(IntegrationError) in
            let inFlight = queue.sending ? Array(queue.items.prefix(1)) : []
            queue.items = inFlight + queue.items.dropFirst(inFlight.count).compactMap { item in
                switch item {
                case .letter(let letter):
                    return letter.holds(anyOf: erased) ? nil : item
                case .events(let events):
                    let kept = events.filter {
                        !erased.contains(ErasureSet.Tombstone(site: Array($0.event.site.utf8), visitor: Array($0.event.visitorID.utf8)))
                    }
                    return kept.isEmpty ? nil : .events(kept)
                }
            }
            _ = try deadLetters.withLock { file throws(IntegrationError) in try file.erase(erased) }
        }
    }
}
