import Glibc

/// Gathers the responses a thread resumes while it completes a batch of work (a storage commit round), and
/// hands them to their loops together at the end: one lock and at most one wake-up per loop, instead of
/// one lock per response, which a loop taking its inbox would contend with.
public enum ResumptionBatch {
    final class Resumptions {
        var byLoop: [(loop: EventLoop, items: [EventLoop.Resumption])] = []

        func add(_ loop: EventLoop, _ resumption: EventLoop.Resumption) {
            if let i = byLoop.firstIndex(where: { $0.loop === loop }) {
                byLoop[i].items.append(resumption)
            } else {
                byLoop.append((loop, [resumption]))
            }
        }
    }

    /// The calling thread's open batch, if any (pthread thread-specific data, created once).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    static var current: Resumptions? {
        pthread_getspecific(key).map { Unmanaged<Resumptions>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body`; responses it resumes on this thread reach their loops when it returns. Nests: an inner
    /// call adds to the outer batch.
    public static func collect(_ body: () -> Void) {
        if current != nil { return body() }
        let batch = Resumptions()
        pthread_setspecific(key, Unmanaged.passUnretained(batch).toOpaque())
        body()
        pthread_setspecific(key, nil)
        for (loop, items) in batch.byLoop { loop.resume(items) }
    }
}
