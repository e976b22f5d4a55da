import ClarmEvents
import ClarmStorage

/// One step of a funnel's answer.
public struct FunnelStepResult: Sendable, Equatable {
    public var name: String
    public var visitors: Int
    /// Of step 1's visitors, in percent (one decimal).
    public var conversionRate: Double
    /// Of the previous step's visitors, in percent (one decimal); 100 for step 1.
    public var conversionRateFromPrevious: Double
    /// The previous step's visitors who did not reach this one; 0 for step 1.
    public var dropoff: Int
    /// The median time from the previous step's event to this one's over the visitors who reached it; nil for
    /// step 1 and when nobody reached it.
    public var medianSecondsFromPrevious: Double?
}

public struct FunnelResult: Sendable {
    public var steps: [FunnelStepResult]
    /// Events read in the range.
    public var events: Int
    /// Step filters asked of events: at most one step per event, so never more than `events` (linear work).
    public var stepChecks: Int
}

/// What one shard found: per step, the visitors who reached it and their times from the previous step.
private struct FunnelProgress: Sendable {
    var reached: [Int]
    var milliseconds: [[Int64]]
    var events = 0
    var stepChecks = 0
}

extension QueryEngine {
    /// Counts each visitor's progress through the funnel in one pass over their time-ordered events.
    public func funnel(_ funnel: Funnel) throws(QueryError) -> FunnelResult {
        let control = self.control
        let parts = try eachShard { shard throws(SegmentCorruption) -> FunnelProgress in
            var selection = RowSelection(site: funnel.site)
            selection.control = control
            selection.from = funnel.from
            selection.to = funnel.to
            selection.columns = [.path, .origin, .properties]
            var scan = try ShardRows.scan(shard, selection)
            var matcher = FunnelMatcher(funnel, strings: scan.strings)
            var progress = FunnelProgress(reached: Array(repeating: 0, count: funnel.steps.count),
                                          milliseconds: Array(repeating: [], count: funnel.steps.count))
            progress.events = scan.rows.count
            Self.forEachVisitor(&scan) { rows in
                var step = 0, entry: Int64 = 0, previous: Int64 = 0
                for row in rows {
                    if step > 0 && row.timestamp - entry > funnel.window { break }
                    progress.stepChecks += 1
                    guard matcher.matches(row, step: step) else { continue }
                    if step == 0 { entry = row.timestamp } else { progress.milliseconds[step].append(row.timestamp - previous) }
                    previous = row.timestamp
                    progress.reached[step] += 1
                    step += 1
                    if step == funnel.steps.count { break }
                }
            }
            return progress
        }
        var total = FunnelProgress(reached: Array(repeating: 0, count: funnel.steps.count),
                                   milliseconds: Array(repeating: [], count: funnel.steps.count))
        for part in parts {
            for i in funnel.steps.indices {
                total.reached[i] += part.reached[i]
                total.milliseconds[i] += part.milliseconds[i]
            }
            total.events += part.events
            total.stepChecks += part.stepChecks
        }
        func rate(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Accumulator.oneDecimal(100 * Double(a) / Double(b)) }
        let steps = funnel.steps.indices.map { i in
            let previous = i == 0 ? total.reached[0] : total.reached[i - 1]
            return FunnelStepResult(
                name: funnel.steps[i].name, visitors: total.reached[i], conversionRate: rate(total.reached[i], total.reached[0]),
                conversionRateFromPrevious: rate(total.reached[i], previous), dropoff: previous - total.reached[i],
                medianSecondsFromPrevious: i == 0 ? nil : Self.medianSeconds(total.milliseconds[i]))
        }
        return FunnelResult(steps: steps, events: total.events, stepChecks: total.stepChecks)
    }

    /// The middle value (the mean of the two middle ones for an even count), in seconds; nil for none.
    static func medianSeconds(_ milliseconds: [Int64]) -> Double? {
        guard !milliseconds.isEmpty else { return nil }
        let sorted = milliseconds.sorted()
        let middle = sorted.count / 2
        let sum = sorted.count % 2 == 1 ? 2 * sorted[middle] : sorted[middle - 1] + sorted[middle]
        return Double(sum) / 2000
    }
}

/// Whether an event passes the funnel's filters and a step's, each filter decided once per distinct value.
private struct FunnelMatcher {
    let funnel: Funnel
    let strings: ByteInterner
    /// The funnel's filters first, then each step's.
    let filters: [Query.Filter]
    /// Indexes into `filters` of each step's.
    let stepFilters: [Range<Int>]
    /// Per filter: its decision by the id of the column value it reads.
    var decisions: [[UInt32: Bool]]
    var reader = PropertyReader()

    init(_ funnel: Funnel, strings: ByteInterner) {
        self.funnel = funnel
        self.strings = strings
        var filters = funnel.filters
        var ranges: [Range<Int>] = []
        for step in funnel.steps {
            ranges.append(filters.count..<filters.count + step.filters.count)
            filters += step.filters
        }
        self.filters = filters
        stepFilters = ranges
        decisions = Array(repeating: [:], count: filters.count)
    }

    mutating func matches(_ row: EventRow, step: Int) -> Bool {
        for index in 0..<funnel.filters.count where !holds(index, row) { return false }
        for index in stepFilters[step] where !holds(index, row) { return false }
        return true
    }

    private mutating func holds(_ index: Int, _ row: EventRow) -> Bool {
        let filter = filters[index]
        let id: UInt32 = switch filter.dimension {
        case .eventName: row.event
        case .eventPage: row.path
        case .eventHostname: row.origin
        default: row.properties
        }
        if let decision = decisions[index][id] { return decision }
        let decision = filter.matches(label(filter.dimension, id))
        decisions[index][id] = decision
        return decision
    }

    /// The text a filter compares, as the query API shows it (`(none)` for an absent property).
    private mutating func label(_ dimension: Query.Dimension, _ id: UInt32) -> String {
        switch dimension {
        case .eventHostname: return VisitAttributes.host(strings.string(id))
        case .eventProperty(let key):
            var result: String? = nil
            Array(strings.value(id)).withUnsafeBytes { properties in
                reader.forEachMember(properties) { name, value in
                    if name.elementsEqual(key.utf8) { result = String(decoding: value, as: UTF8.self) }
                }
            }
            return result ?? "(none)"
        default: return strings.string(id)
        }
    }
}
