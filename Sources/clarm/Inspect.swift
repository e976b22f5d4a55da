import ArgumentParser
import ClarmEvents
import ClarmStorage

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the segments of a data directory: rows, time range, and each column's encoding and sizes (read-only, also beside a live server)."
    )

    @Option(help: "Data directory.")
    var data = "./data"

    @Flag(help: "Only the totals over all segments.")
    var summary = false

    func run() throws {
        let (segments, problems) = StoreInspector.inspect(directory: data)
        for problem in problems { print("DAMAGED \(problem)") }
        var totals: [String: StoreInspector.ColumnStats] = [:]
        var order: [String] = []
        for segment in segments {
            if !summary {
                print("\(segment.path): \(segment.rows) rows, \(segment.fileBytes) bytes, "
                      + "\(Timestamp.format(segment.minTimestamp)) … \(Timestamp.format(segment.maxTimestamp)), covers WAL ≤ \(segment.walCovered)")
                for column in segment.columns { print("  " + line(column)) }
            }
            for column in segment.columns {
                if totals[column.name] == nil { order.append(column.name) }
                var total = totals[column.name] ?? column
                if totals[column.name] == nil {
                    total.storedBytes = 0
                    total.rawBytes = 0
                    total.dictionaryEntries = 0
                    total.width = 0
                }
                total.storedBytes += column.storedBytes
                total.rawBytes += column.rawBytes
                total.dictionaryEntries += column.dictionaryEntries
                totals[column.name] = total
            }
        }
        let rows = segments.reduce(0) { $0 + $1.rows }
        let bytes = segments.reduce(0) { $0 + $1.fileBytes }
        print("total: \(segments.count) segments, \(rows) rows, \(bytes) bytes"
              + (rows > 0 ? ", \(format(Double(bytes) / Double(rows))) bytes per event" : ""))
        for name in order {
            let column = totals[name]!
            print("  " + line(column) + (rows > 0 ? ", \(format(Double(column.storedBytes) / Double(rows))) B/event" : ""))
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }

    private func line(_ column: StoreInspector.ColumnStats) -> String {
        let encoding = column.encoding == .delta ? "delta" : "dictionary(\(column.dictionaryEntries) entries\(column.width > 0 ? ", \(column.width)-byte ids" : ""))"
        return "\(column.name.padding(12)) \(encoding): \(column.storedBytes) bytes stored, \(column.rawBytes) raw"
    }

    private func format(_ value: Double) -> String {
        let scaled = Int((value * 100).rounded())
        return "\(scaled / 100).\(String(scaled % 100).leftPadded(2))"
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
