/// What counters and gauges share: a name, help text, and one atomic cell per value of an optional label whose
/// values are fixed up front.
public struct LabeledCells: Sendable {
    public let name: String
    public let help: String
    public let label: String?
    public let labelValues: [String]
    let cells: AtomicCells

    init(_ name: String, _ help: String, _ label: String?, _ values: [String]) {
        self.name = name
        self.help = help
        self.label = label
        self.labelValues = values
        cells = AtomicCells(count: values.count)
    }
}

/// A monotonically increasing count, optionally split by one label.
public final class Counter: Sendable {
    public let series: LabeledCells

    /// A counter with no label.
    public init(_ name: String, help: String) { series = LabeledCells(name, help, nil, [""]) }

    /// A counter per value of `label`; `add(_:at:)` takes the value's index.
    public init(_ name: String, help: String, label: String, values: [String]) {
        series = LabeledCells(name, help, label, values)
    }

    public func add(_ amount: Int = 1, at index: Int = 0) { series.cells.add(index, amount) }
    public func value(at index: Int = 0) -> Int { series.cells.load(index) }
}

/// A value that goes up and down, optionally split by one label.
public final class Gauge: Sendable {
    public let series: LabeledCells

    public init(_ name: String, help: String) { series = LabeledCells(name, help, nil, [""]) }

    public init(_ name: String, help: String, label: String, values: [String]) {
        series = LabeledCells(name, help, label, values)
    }

    public func set(_ value: Int, at index: Int = 0) { series.cells.store(index, value) }
    public func add(_ amount: Int, at index: Int = 0) { series.cells.add(index, amount) }
    public func value(at index: Int = 0) -> Int { series.cells.load(index) }
}

/// Observations counted into fixed buckets (upper bounds), with their count and sum, as Prometheus histograms are.
/// Values are recorded in micro-units (microseconds for seconds), so the sum stays an exact integer.
public final class Histogram: Sendable {
    public let name: String
    public let help: String
    /// Upper bounds, ascending, in the histogram's unit (say, seconds); `+Inf` is implied.
    public let bounds: [Double]
    private let microBounds: [Int]
    /// Per bucket (not cumulative), then the `+Inf` bucket, then the sum in micro-units.
    let cells: AtomicCells

    public init(_ name: String, help: String, bounds: [Double]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must ascend")
        self.name = name
        self.help = help
        self.bounds = bounds
        microBounds = bounds.map { Int(($0 * 1_000_000).rounded()) }
        cells = AtomicCells(count: bounds.count + 2)
    }

    /// Seconds of latency, from 1 ms to 30 s.
    public static let latencyBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    public func observe(_ value: Double) {
        observe(micro: Int((value * 1_000_000).rounded()))
    }

    /// Observes a value given in micro-units (say, microseconds for a histogram in seconds).
    public func observe(micro value: Int) {
        var bucket = microBounds.count
        for (i, bound) in microBounds.enumerated() where value <= bound {
            bucket = i
            break
        }
        cells.add(bucket)
        cells.add(bounds.count + 1, value)
    }

    /// The number of observations.
    public var count: Int { (0...bounds.count).reduce(0) { $0 + cells.load($1) } }
}
