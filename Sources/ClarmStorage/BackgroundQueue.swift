import CClarmLinux
import ClarmSystem
import Dispatch
import Glibc
import Synchronization

/// A serial queue on a thread of its own at a low CPU priority: for sealing and compaction, which must not
/// take the cores from the event loops and the log writers while they have work. A Dispatch queue cannot do
/// this: its threads come from a shared pool, and a nice value set on one would stay with it for whatever
/// work it runs next.
///
/// Nice 10 weighs a tenth of a normal thread: against two busy event loops and a writer the sealer gets
/// about 3 % of the CPU, and all the idle time. Not 19 (1.5 %): under a sustained full load seals would
/// then fall so far behind that the memory limit turns ingest away, which costs more than the seal.
final class BackgroundQueue: Sendable {
    private struct Job {
        let run: @Sendable () -> Void
        /// Signalled once `run` has returned and been released (`sync` waits for it).
        var done: DispatchSemaphore? = nil
    }

    private struct State {
        var jobs: [Job] = []
        var delayed: [(due: Int64, job: Job)] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    static let nice: Int32 = 10

    init(name: String) {
        let start = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let queue = Unmanaged<BackgroundQueue>.fromOpaque(context!).takeRetainedValue()
            queue.run()
            return nil
        }, start)
        precondition(created == 0, "cannot start the \(name) thread: \(Errno(created))")
        pthread_detach(thread)
    }

    /// Runs `job` after those queued before it.
    func async(_ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.jobs.append(Job(run: job)) }
        wake.signal()
    }

    /// Queues `job` once `milliseconds` have passed.
    func async(afterMilliseconds milliseconds: Int, _ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.delayed.append((monotonicMilliseconds() + Int64(milliseconds), Job(run: job))) }
        wake.signal()
    }

    /// Runs `body` on the queue after the jobs queued before it, and waits for it. Never from the queue itself.
    /// Once the queue is stopped it runs `body` on the caller.
    func sync<T>(_ body: () -> T) -> T {
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            nonisolated(unsafe) var result: T? = nil
            let done = DispatchSemaphore(value: 0)
            let queued = state.withLock { state in
                if state.stopped { return false }
                state.jobs.append(Job(run: { result = body() }, done: done))
                return true
            }
            if !queued { return body() }
            wake.signal()
            done.wait()
            return result!
        }
    }

    /// Ends the thread once the jobs queued now have run; later jobs are dropped and `sync` runs inline.
    func stop() {
        sync { state.withLock { $0.stopped = true } }
    }

    private func run() {
        _ = clarm_set_thread_nice(Self.nice)
        while true {
            switch runNext() {
            case .ran(let done): done?.signal()
            case .wait(let milliseconds?): _ = wake.wait(timeout: .now() + .milliseconds(Int(milliseconds)))
            case .wait(nil): wake.wait()
            case .stopped: return
            }
        }
    }

    private enum Turn {
        case ran(DispatchSemaphore?)
        case wait(Int64?)
        case stopped
    }

    /// Runs the next job due, if any. The job is released when this returns, before `sync` is told it ran:
    /// its closure must not outlive the call that lent it.
    private func runNext() -> Turn {
        let next = state.withLock { state -> Job? in
            let now = monotonicMilliseconds()
            if let due = state.delayed.firstIndex(where: { $0.due <= now }) {
                state.jobs.append(state.delayed.remove(at: due).job)
            }
            return state.jobs.isEmpty ? nil : state.jobs.removeFirst()
        }
        if let job = next {
            job.run()
            return .ran(job.done)
        }
        return state.withLock { state in
            if state.stopped { return .stopped }
            return .wait(state.delayed.map(\.due).min().map { max(1, $0 - monotonicMilliseconds()) })
        }
    }
}
