import Glibc

/// The process's limit on open descriptors (`RLIMIT_NOFILE`).
public enum DescriptorLimit {
    /// Raises the soft limit to the hard limit (the usual soft limit, 1024, is a relic of `select(2)`; the hard
    /// limit is what the administrator granted). Returns the soft limit before and after.
    public static func raiseToHard() throws(Errno) -> (before: Int, after: Int) {
        var limit = rlimit()
        _ = try retryingOnInterrupt { getrlimit(resource, &limit) }
        let before = limit.rlim_cur
        // An unlimited hard limit (RLIM_INFINITY) still stops at the kernel's nr_open; 2^20 is its default.
        let target = limit.rlim_max == rlim_t.max ? max(before, 1 << 20) : limit.rlim_max
        if target > before {
            limit.rlim_cur = target
            _ = try retryingOnInterrupt { setrlimit(resource, &limit) }
        }
        return (Int(clamping: before), Int(clamping: max(target, before)))
    }

    /// The soft limit in force.
    public static func current() throws(Errno) -> Int {
        var limit = rlimit()
        _ = try retryingOnInterrupt { getrlimit(resource, &limit) }
        return Int(clamping: limit.rlim_cur)
    }

    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
