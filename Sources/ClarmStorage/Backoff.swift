/// Delays between attempts of a job that keeps failing: 100 ms, doubling, at most 30 s.
public struct Backoff {
    public static let first: Int64 = 100
    public static let longest: Int64 = 30_000

    public private(set) var failures = 0

    public init() {}

    /// Milliseconds to wait before the next attempt; counts one more failure.
    public mutating func next() -> Int64 {
        failures += 1
        return min(Self.longest, Self.first << min(failures - 1, 20))
    }

    public mutating func reset() { failures = 0 }
}
