/// A token bucket: `rate` tokens a second up to `burst`; a request takes what it costs or waits.
struct TokenBucket: Sendable {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var updatedAt: Int64

    /// A full bucket at `now` (monotonic milliseconds).
    init(rate: Int, burst: Int, now: Int64) {
        self.rate = Double(rate)
        self.burst = Double(max(burst, 1))
        tokens = self.burst
        updatedAt = now
    }

    /// Takes `cost` tokens; nil when granted, else the whole seconds until the bucket can grant it.
    ///
    /// A cost above the burst is granted from a full bucket and leaves it in debt, so a large request is
    /// slowed down rather than refused forever.
    mutating func take(_ cost: Int, now: Int64) -> Int? {
        if now > updatedAt {
            tokens = min(burst, tokens + Double(now - updatedAt) * rate / 1000)
            updatedAt = now
        }
        let needed = min(Double(cost), burst)
        guard tokens >= needed else {
            return max(1, Int(((needed - tokens) / rate).rounded(.up)))
        }
        tokens -= Double(cost)
        return nil
    }

    /// Gives back tokens taken for a request that was refused after all.
    mutating func refund(_ cost: Int) {
        tokens = min(burst, tokens + Double(cost))
    }
}
