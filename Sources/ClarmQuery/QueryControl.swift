import ClarmSystem
import Synchronization

/// What stops a query before it is done: its deadline, its client going away, or holding too many rows.
/// Scans ask it between segment blocks and memtable chunks, so a stop takes effect within one block's work.
public final class QueryControl: Sendable {
    public enum Stop: Int, Sendable {
        case timeout = 1, cancelled, tooManyRows
    }

    /// Monotonic milliseconds (`monotonicMilliseconds`) after which the query stops.
    public let deadline: Int64
    public let timeoutMilliseconds: Int64
    /// Rows all the query's scans together may hold; the strings they meet count too, a row per 64 bytes.
    public let maxRows: Int
    private let isCancelled: @Sendable () -> Bool
    private let rows = Atomic<Int>(0)
    private let stop = Atomic<Int>(0)

    public init(timeoutMilliseconds: Int64, maxRows: Int, isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.deadline = monotonicMilliseconds() + timeoutMilliseconds
        self.maxRows = maxRows
        self.isCancelled = isCancelled
    }

    /// No deadline, no row cap: for tools and tests that run queries directly. A new one each time, since a
    /// control counts the rows of its query.
    public static var unlimited: QueryControl { QueryControl(timeoutMilliseconds: Int64.max / 4, maxRows: Int.max) }

    /// Why the query stopped, once it has.
    public var stopped: Stop? { Stop(rawValue: stop.load(ordering: .relaxed)) }

    /// Counts `rows` more held rows and tells whether the query must stop now.
    func shouldStop(addingRows added: Int) -> Bool {
        if stop.load(ordering: .relaxed) != 0 { return true }
        if added > 0, rows.add(added, ordering: .relaxed).newValue > maxRows { return halt(.tooManyRows) }
        if monotonicMilliseconds() >= deadline { return halt(.timeout) }
        if isCancelled() { return halt(.cancelled) }
        return false
    }

    private func halt(_ reason: Stop) -> Bool {
        _ = stop.compareExchange(expected: 0, desired: reason.rawValue, ordering: .relaxed)
        return true
    }

    /// Asks the deadline and the client now, and throws if the query must stop (say, before it starts).
    public func stopIfDue() throws(QueryError) {
        _ = shouldStop(addingRows: 0)
        try check()
    }

    /// Throws the stop already recorded, if any, as the error the query answers with.
    public func check() throws(QueryError) {
        switch stopped {
        case nil: return
        case .timeout:
            throw QueryError(field: "query", problem: "stopped at the query timeout of \(Self.seconds(timeoutMilliseconds)); narrow the range or add filters", kind: .timeout)
        case .cancelled:
            throw QueryError(field: "query", problem: "cancelled: the client closed the connection", kind: .cancelled)
        case .tooManyRows:
            throw QueryError(field: "query", problem: "needs more than \(maxRows) events' worth of memory (--query-max-rows); narrow the range or add filters", kind: .tooManyRows)
        }
    }

    static func seconds(_ milliseconds: Int64) -> String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}

extension QueryError {
    /// How a query failed, which decides the HTTP status of the answer.
    public enum Kind: Sendable {
        /// The query itself is wrong (400).
        case invalid
        /// Its deadline passed (504).
        case timeout
        /// Its client went away; no one reads the answer.
        case cancelled
        /// It would hold more rows than allowed (422).
        case tooManyRows
    }
}
