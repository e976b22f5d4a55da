/// System calls wrapped once: errors as `Errno`, EINTR retried, clocks read one way.
import Glibc

/// A failed system call's `errno`.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public let rawValue: Int32

    @inlinable
    public init(_ rawValue: Int32) {
        self.rawValue = rawValue
    }

    public var description: String { String(cString: strerror(rawValue)) + " (errno \(rawValue))" }

    public static let again = Errno(EAGAIN)
}

/// Runs a system call that returns -1 and sets `errno` on failure, retrying on EINTR.
@inlinable @inline(__always)
public func retryingOnInterrupt<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let error = errno
        if error != EINTR { throw Errno(error) }
    }
}

/// Closes a descriptor once. EINTR is not retried: on Linux the descriptor is released whatever close returns.
public func closeDescriptor(_ fd: Int32) {
    _ = Glibc.close(fd)
}

/// Milliseconds of a clock, coarse enough to read on every loop turn.
func clockMilliseconds(_ clock: clockid_t) -> Int64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Monotonic time for deadlines, coarse (a few milliseconds) and cheap enough for every loop turn.
public func monotonicMilliseconds() -> Int64 { clockMilliseconds(CLOCK_MONOTONIC_COARSE) }

/// Monotonic time in microseconds, precise (not coarse): for measuring short operations such as an fsync.
public func monotonicMicroseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}

/// Wall-clock time in UTC milliseconds since the epoch.
public func wallClockMilliseconds() -> Int64 { clockMilliseconds(CLOCK_REALTIME) }
