import Glibc

/// Gathers the responses a thread resumes while it completes a batch of work (a storage commit round), and
/// hands them to their loops together at the end: one lock and at most one wake-up per loop, instead of
/// one lock per response, which a loop taking its inbox would contend with.
public enum ResumptionBatch {
    /// A thread's batch, made once and kept with its lists' storage from round to round, so that a round
    /// allocates nothing once the lists have grown; the loops themselves are let go after each round.
    final class Resumptions {
        var open = false
        private var loops: [EventLoop] = []
        /// The resumptions for `loops[i]` in `lists[i]`; lists past `loops.count` are empty, kept for reuse.
        private var lists: [[EventLoop.Resumption]] = []

        func add(_ loop: EventLoop, _ resumption: EventLoop.Resumption) {
            let i = loops.firstIndex { $0 === loop } ?? {
                loops.append(loop)
                if lists.count < loops.count { lists.append([]) }
                return loops.count - 1
            }()
            lists[i].append(resumption)
        }

        func deliver() {
            for i in loops.indices {
                loops[i].resume(lists[i])
                lists[i].removeAll(keepingCapacity: true)
            }
            loops.removeAll(keepingCapacity: true)
        }
    }

    /// The calling thread's batch (pthread thread-specific data, released when the thread ends).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { batch in
            batch.map { Unmanaged<Resumptions>.fromOpaque($0).release() }
        }
        precondition(status == 0, "pthread_key_create failed")
        return key
    }()

    private static var threadBatch: Resumptions {
        if let batch = pthread_getspecific(key) { return Unmanaged<Resumptions>.fromOpaque(batch).takeUnretainedValue() }
        let batch = Resumptions()
        pthread_setspecific(key, Unmanaged.passRetained(batch).toOpaque())
        return batch
    }

    /// The calling thread's open batch, if any.
    static var current: Resumptions? {
        pthread_getspecific(key).map { Unmanaged<Resumptions>.fromOpaque($0).takeUnretainedValue() }.flatMap { $0.open ? $0 : nil }
    }

    /// Runs `body`; responses it resumes on this thread reach their loops when it returns. Nests: an inner
    /// call adds to the outer batch.
    public static func collect(_ body: () -> Void) {
        let batch = threadBatch
        if batch.open { return body() }
        batch.open = true
        body()
        batch.open = false
        batch.deliver()
    }
}
