import ClarmEvents
import ClarmQuery

/// docs/QUERIES.md "Funnels" computed apart from the engine: for each visitor, their events in range sorted by
/// time, the entry found first, then each next step searched for from just after the previous one.
public enum FunnelReference {
    public struct Step: Equatable, CustomStringConvertible {
        public var visitors: Int
        public var conversionRate: Double
        public var conversionRateFromPrevious: Double
        public var dropoff: Int
        public var medianSecondsFromPrevious: Double?

        public init(visitors: Int, conversionRate: Double, conversionRateFromPrevious: Double, dropoff: Int,
                    medianSecondsFromPrevious: Double?) {
            self.visitors = visitors
            self.conversionRate = conversionRate
            self.conversionRateFromPrevious = conversionRateFromPrevious
            self.dropoff = dropoff
            self.medianSecondsFromPrevious = medianSecondsFromPrevious
        }

        public var description: String {
            "\(visitors) \(conversionRate)% \(conversionRateFromPrevious)% -\(dropoff) \(medianSecondsFromPrevious.map { "\($0)s" } ?? "null")"
        }
    }

    public static func run(_ events: [EventRecord], _ funnel: Funnel, erased: Set<String> = []) -> [Step] {
        var byVisitor: [String: [EventRecord]] = [:]
        for event in events where event.site == funnel.site && event.timestamp >= funnel.from && event.timestamp < funnel.to
            && !erased.contains(event.visitorID) {
            byVisitor[event.visitorID, default: []].append(event)
        }
        func passes(_ filters: [Query.Filter], _ event: EventRecord) -> Bool {
            filters.allSatisfy { QueryReference.matches($0, QueryReference.value($0.dimension, event, event)) }
        }
        func matches(_ event: EventRecord, _ step: Int) -> Bool {
            passes(funnel.filters, event) && passes(funnel.steps[step].filters, event)
        }
        var reached = Array(repeating: 0, count: funnel.steps.count)
        var gaps = Array(repeating: [Int64](), count: funnel.steps.count)
        for list in byVisitor.values {
            // A stable sort: events of equal times stay in the order they were sent.
            let sorted = list.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
            guard let entry = sorted.firstIndex(where: { matches($0, 0) }) else { continue }
            reached[0] += 1
            var at = entry
            for step in 1..<funnel.steps.count {
                let next = sorted.indices.first { $0 > at && sorted[$0].timestamp - sorted[entry].timestamp <= funnel.window && matches(sorted[$0], step) }
                guard let next else { break }
                reached[step] += 1
                gaps[step].append(sorted[next].timestamp - sorted[at].timestamp)
                at = next
            }
        }
        func rate(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : QueryReference.round1(100 * Double(a) / Double(b)) }
        return funnel.steps.indices.map { step in
            let previous = reached[max(step - 1, 0)]
            let sorted = gaps[step].sorted()
            let median: Double? = sorted.isEmpty ? nil
                : sorted.count % 2 == 1 ? Double(sorted[sorted.count / 2]) / 1000
                : Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2000
            return Step(visitors: reached[step], conversionRate: rate(reached[step], reached[0]),
                        conversionRateFromPrevious: rate(reached[step], previous), dropoff: previous - reached[step],
                        medianSecondsFromPrevious: step == 0 ? nil : median)
        }
    }
}
