/// Writes metrics in the Prometheus text exposition format, version 0.0.4.
public struct PrometheusText {
    public static let contentType: StaticString = "text/plain; version=0.0.4; charset=utf-8"

    public private(set) var bytes: [UInt8] = []

    public init() {
        bytes.reserveCapacity(16 * 1024)
    }

    public mutating func write(_ counter: Counter) { write(counter.series, type: "counter") }

    public mutating func write(_ gauge: Gauge) { write(gauge.series, type: "gauge") }

    private mutating func write(_ series: LabeledCells, type: String) {
        header(series.name, series.help, type)
        for (i, value) in series.labelValues.enumerated() {
            sample(series.name, series.label.map { [($0, value)] } ?? [], series.cells.load(i))
        }
    }

    public mutating func write(_ histogram: Histogram) {
        header(histogram.name, histogram.help, "histogram")
        var cumulative = 0
        for (i, bound) in histogram.bounds.enumerated() {
            cumulative += histogram.cells.load(i)
            sample(histogram.name + "_bucket", [("le", Self.number(bound))], cumulative)
        }
        cumulative += histogram.cells.load(histogram.bounds.count)
        sample(histogram.name + "_bucket", [("le", "+Inf")], cumulative)
        let micro = histogram.cells.load(histogram.bounds.count + 1)
        line(histogram.name + "_sum", [], Self.number(Double(micro) / 1_000_000))
        sample(histogram.name + "_count", [], cumulative)
    }

    /// A family of samples given as rows of labels and a value (say, requests by route and status code).
    public mutating func write(_ name: String, help: String, type: String, rows: [(labels: [(String, String)], value: Int)]) {
        header(name, help, type)
        for row in rows { sample(name, row.labels, row.value) }
    }

    private mutating func header(_ name: String, _ help: String, _ type: String) {
        append("# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n")
    }

    private mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int) {
        line(name, labels, String(value))
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: String) {
        append(name)
        if !labels.isEmpty {
            append("{")
            for (i, (label, value)) in labels.enumerated() {
                append(i == 0 ? "" : ",")
                append("\(label)=\"\(Self.escapeLabel(value))\"")
            }
            append("}")
        }
        append(" \(value)\n")
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// HELP text escapes `\` and line feeds; label values also escape `"`.
    static func escapeHelp(_ text: String) -> String { escape(text, quotes: false) }

    static func escapeLabel(_ text: String) -> String { escape(text, quotes: true) }

    private static func escape(_ text: String, quotes: Bool) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quotes: out += "\\\""
            default: out.append(character)
            }
        }
        return out
    }
}
