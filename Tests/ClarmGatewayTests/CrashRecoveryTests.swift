import Foundation
import Glibc
import Synchronization
import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport

/// Runs the real gateway under a load of batched POSTs, kills it with SIGKILL several times, restarts it,
/// and checks that every event that got a 202 is stored exactly once, retries included.
@Suite struct CrashRecoveryTests {
    final class Ledger: Sendable {
        struct State {
            var next = 0
            var acknowledged = Set<Int>()
            var attempted = Set<Int>()
            /// Batches whose answer was lost in a crash; the next run sends them again, as the loader would.
            var unanswered: [[Int]] = []
        }
        let state = Mutex(State())
    }

    static func body(_ numbers: [Int]) -> String {
        "[" + numbers.map { n in
            #"{"event":"page_view","visitor_id":"v-\#(n % 53)","session_id":"s-\#(n % 53)","event_id":"id-\#(n)","# +
            #""url":"https://crash.example.com/e/\#(n)","timestamp":"2026-11-05T08:19:19.685Z","properties":{"n":\#(n)}}"#
        }.joined(separator: ",") + "]"
    }

    func startServer(_ data: String) throws -> (Process, Int) {
        try ServeProcess.launch(["--data", data, "--loops", "2", "--shards", "2", "--seal-events", "1500"])
    }

    @Test func acknowledgedEventsSurviveSIGKILLExactlyOnce() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.path
        let ledger = Ledger()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<4 {
            let (process, port) = try startServer(data)
            let stop = Atomic<Bool>(false)
            let clients = (0..<3).map { _ in
                Thread {
                    guard let client = try? TestClient(port: port) else { return }
                    while !stop.load(ordering: .relaxed) {
                        let numbers: [Int] = ledger.state.withLock { state in
                            if let retry = state.unanswered.popLast() { return retry }
                            let numbers = Array(state.next..<(state.next + 20))
                            state.next += 20
                            state.attempted.formUnion(numbers)
                            return numbers
                        }
                        let response = try? { () throws -> TestResponse? in
                            try client.send(trackRequest(Self.body(numbers)))
                            return try client.readResponse()
                        }()
                        guard let response, response.status == 202 else {
                            ledger.state.withLock { $0.unanswered.append(numbers) }
                            return
                        }
                        ledger.state.withLock { $0.acknowledged.formUnion(numbers) }
                    }
                }
            }
            for thread in clients { thread.start() }
            usleep(UInt32.random(in: 200_000...600_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            stop.store(true, ordering: .relaxed)
            usleep(200_000)  // clients see the reset and stop
            #expect(process.terminationReason == .uncaughtSignal)
        }

        // A last, clean run sends what never got an answer, then stops gracefully.
        let (process, port) = try startServer(data)
        let client = try TestClient(port: port)
        for numbers in ledger.state.withLock({ $0.unanswered }) {
            try client.send(trackRequest(Self.body(numbers)))
            #expect(try client.readResponse()?.status == 202)
            ledger.state.withLock { $0.acknowledged.formUnion(numbers) }
        }
        client.hangUp()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let store = try Store(directory: data)
        defer { store.close() }
        var counts: [Int: Int] = [:]
        for event in try store.allEvents() {
            guard let n = Int(event.url.split(separator: "/").last ?? "") else { continue }
            counts[n, default: 0] += 1
        }
        let state = ledger.state.withLock { $0 }
        #expect(state.acknowledged.count > 200, "the load ran (\(state.acknowledged.count) acknowledged)")
        let lost = state.acknowledged.subtracting(counts.keys).sorted()
        let twice = counts.filter { $0.value > 1 }.keys.sorted()
        let nothingLost = lost.isEmpty, nothingTwice = twice.isEmpty
        #expect(nothingLost, "\(lost.count) acknowledged events lost, such as \(lost.prefix(10))")
        #expect(nothingTwice, "\(twice.count) events stored twice, such as \(twice.prefix(10))")
        #expect(Set(counts.keys).isSubset(of: state.attempted))
        #expect(StoreVerifier.verify(directory: data).allSatisfy { !$0.isDamage })
    }
}
