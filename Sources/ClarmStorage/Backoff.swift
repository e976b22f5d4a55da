/// Delays between attempts of a job that keeps failing: 100 ms, doubling, at most 30 s.
struct Backoff {
    static let first: Int64 = 100
    static let longest: Int64 = 30_000

    private(set) var failures = 0

    /// Milliseconds to wait before the next attempt; counts one more failure.
    mutating func next() -> Int64 {
        failures += 1
        return min(Self.longest, Self.first << min(failures - 1, 20))
    }

    mutating func reset() { failures = 0 }
}
