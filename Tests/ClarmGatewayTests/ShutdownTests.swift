import Glibc
import Synchronization
import Testing
import ClarmHTTP
@testable import ClarmServer

/// A response resumed after its server stopped (a store completing late) must not write to the loop's eventfd
/// number once it is closed: by then the number may name another file.
@Suite struct ShutdownTests {
    /// Suspends every request and hands the pending responses to the test.
    final class Suspending: HTTPHandler {
        let box: Box
        init(_ box: Box) { self.box = box }
        func handle(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
            let suspended = response.suspend()
            box.pending.withLock { $0.append(suspended) }
        }
        func respondToError(_ status: HTTPStatus, message: StaticString, _ response: inout HTTPResponseWriter) {
            response.start(status)
            response.noBody()
        }
    }

    final class Box: Sendable {
        let pending = Mutex<[PendingResponse]>([])
    }

    @Test func aResponseResumedAfterShutdownWritesNowhere() throws {
        // The eventfd's number is reused by the file below unless another test takes it first; then try again.
        for _ in 0..<5 {
            let box = Box()
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.eventLoops = 1
            configuration.shutdownGrace = 100
            let server = try HTTPServer(configuration: configuration) { Suspending(box) }
            let client = try TestClient(port: server.port)
            try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            for _ in 0..<500 where box.pending.withLock({ $0.isEmpty }) { usleep(10_000) }
            let pending = try #require(box.pending.withLock { $0.first })
            let wakeNumber = server.loops[0].wakeFD
            server.shutdown()
            server.waitUntilStopped()

            var template = Array("/tmp/clarm-reused-XXXXXX".utf8CString)
            let file = mkstemp(&template)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            defer { close(file) }
            let reused = fcntl(file, F_DUPFD_CLOEXEC, wakeNumber)
            defer { close(reused) }
            guard reused == wakeNumber else { continue }

            pending.resume { response in
                response.start(.ok)
                response.noBody()
            }
            var status = stat()
            fstat(reused, &status)
            #expect(status.st_size == 0, "the late response wrote into the file that took the eventfd's number")
            return
        }
        Issue.record("the eventfd's number was always taken by another test before it could be checked")
    }
}
