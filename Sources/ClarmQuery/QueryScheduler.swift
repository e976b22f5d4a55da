import Dispatch
import Synchronization

/// Runs queries on a bounded number of threads with a short queue behind them; a query beyond the queue is
/// refused at once, so a burst of heavy queries cannot take every core from ingestion or pile up without end.
public final class QueryScheduler: Sendable {
    public let concurrency: Int
    public let queueLimit: Int

    private struct State {
        var running = 0
        /// Waiting jobs, oldest first; at most `queueLimit`, so taking the first is cheap.
        var waiting: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init(concurrency: Int, queueLimit: Int) {
        precondition(concurrency >= 1 && queueLimit >= 0)
        self.concurrency = concurrency
        self.queueLimit = queueLimit
    }

    /// Queries running now, and waiting for a thread.
    public var load: (running: Int, queued: Int) { state.withLock { ($0.running, $0.waiting.count) } }

    /// Runs `job` now or after the queries ahead of it; false when the queue is full (the job is not run).
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let startNow = state.withLock { state -> Bool? in
            if state.running < concurrency {
                state.running += 1
                return true
            }
            guard state.waiting.count < queueLimit else { return nil }
            state.waiting.append(job)
            return false
        }
        guard let startNow else { return false }
        if startNow { start(job) }
        return true
    }

    private func start(_ job: @escaping @Sendable () -> Void) {
        DispatchQueue.global(qos: .userInitiated).async {
            job()
            self.finished()
        }
    }

    /// A job ended: its thread takes the next waiting one, or is given back.
    private func finished() {
        let next = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        if let next { start(next) }
    }
}
