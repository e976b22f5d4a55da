import Dispatch
import Synchronization
import ClarmEvents
@testable import ClarmStorage
import ClarmTestSupport

/// A deterministic event with a recognisable URL, so it can be found again in segments (which keep no event id).
func makeEvent(_ n: Int, visitors: Int = 7, eventID: String? = nil) -> EventRecord {
    let kinds = ["page_view", "widget_open", "purchase", "identify", "goal_achieved"]
    let kind = kinds[n % kinds.count]
    let properties: String = switch kind {
    case "purchase": #"{"amount": \#(n % 90 + 10).5, "currency":"\#(n % 2 == 0 ? "USD" : "EUR")","plan":"pro","orderId":"o-\#(n)"}"#
    case "identify": #"{"email":"user\#(n % visitors)@example.com","name":"Us\u00e9r \#(n % visitors)","company":"Acme"}"#
    case "goal_achieved": #"{"goal":"signup","value":3}"#
    default: ""
    }
    return EventRecord(
        timestamp: 1_793_866_759_685 + Int64(n) * 1_000, receivedAt: 1_793_866_800_000 + Int64(n),
        event: kind, visitorID: "visitor-\(n % visitors)", sessionID: "s-\(n % visitors)-\(n / 50)",
        eventID: eventID ?? "e-\(n)", url: "https://shop.example.com/e/\(n)?utm_source=news#frag",
        referrer: n % 3 == 0 ? "https://www.google.com/" : "", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        properties: properties, site: "shop.example.com")
}

func encode(_ events: [EventRecord]) -> [UInt8] {
    var out: [UInt8] = []
    for event in events { event.append(to: &out) }
    return out
}

/// What segments keep of an event: no event id, no receive time.
func stored(_ event: EventRecord) -> EventRecord {
    var copy = event
    copy.eventID = ""
    copy.receivedAt = 0
    return copy
}

func eventNumber(_ event: EventRecord) -> Int? {
    guard let range = event.url.range(of: "/e/") else { return nil }
    return Int(event.url[range.upperBound...].prefix { $0.isNumber })
}

extension Store {
    /// Appends events to their shards and waits for every outcome.
    func appendAndWait(_ events: [EventRecord]) -> [AppendOutcome] {
        var byShard: [Int: [EventRecord]] = [:]
        for event in events {
            let shard = Array(event.visitorID.utf8).withUnsafeBytes { self.shard(forVisitor: $0) }
            byShard[shard, default: []].append(event)
        }
        let outcomes = Mutex<[AppendOutcome]>([])
        let group = DispatchGroup()
        for (shard, events) in byShard.sorted(by: { $0.key < $1.key }) {
            group.enter()
            append(shard: shard, records: encode(events), count: events.count) { outcome in
                outcomes.withLock { $0.append(outcome) }
                group.leave()
            }
        }
        group.wait()
        return outcomes.withLock { $0 }
    }
}

extension AppendOutcome {
    var accepted: Int? { if case .stored(let accepted, _) = self { accepted } else { nil } }
    var duplicates: Int? { if case .stored(_, let duplicates) = self { duplicates } else { nil } }
    var failed: Bool { if case .failed = self { true } else { false } }
}

/// Notices a store reports, for assertions.
final class Notices: Sendable {
    private let lines = Mutex<[String]>([])
    var report: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}

extension String {
    func range(of needle: String) -> Range<String.Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) { return index..<self.index(index, offsetBy: needle.count) }
            index = self.index(after: index)
        }
        return nil
    }
}
