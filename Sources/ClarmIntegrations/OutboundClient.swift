import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// An answer from a destination: its status and the start of its body.
struct OutboundResponse: Sendable {
    let status: Int
    /// At most `OutboundClient.maxBody` bytes.
    let body: [UInt8]
    /// Seconds from a `Retry-After` header, when it holds a number.
    let retryAfter: Int?

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Every request to a destination goes through here: URLSession (libcurl) with TLS, connections reused per
/// host, no redirects followed (a 3xx is the answer), the whole request bounded by `timeoutSeconds`, and at
/// most `maxBody` bytes of the answer kept (the transfer is cancelled past it).
final class OutboundClient: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let timeoutSeconds: Double
    static let maxBody = 16 << 10
    static let maxRetryAfterSeconds = 86_400

    private struct Transfer {
        var body: [UInt8] = []
        var truncated = false
        let done = DispatchSemaphore(value: 0)
    }

    private let transfers = Mutex<[Int: Transfer]>([:])
    // Set once in init; URLSession keeps its delegate strongly until invalidated.
    private nonisolated(unsafe) var session: URLSession!

    init(timeoutSeconds: Double) {
        self.timeoutSeconds = timeoutSeconds
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        configuration.httpMaximumConnectionsPerHost = 4
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    /// Sends one request and waits for its answer; throws a sentence when there is none (refused, timed out…).
    func send(_ method: String, _ url: String, headers: [(String, String)], body: [UInt8]) throws(IntegrationError) -> OutboundResponse {
        guard let target = URL(string: url) else { throw .invalid("bad url \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.timeoutInterval = timeoutSeconds
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue("Clarm-Integrations/1", forHTTPHeaderField: "User-Agent")
        request.httpBody = Data(body)
        let task = session.dataTask(with: request)
        let done = transfers.withLock { transfers in
            let transfer = Transfer()
            transfers[task.taskIdentifier] = transfer
            return transfer.done
        }
        task.resume()
        // The session's own timeout ends the task; this wait only guards against a lost callback.
        if done.wait(timeout: .now() + timeoutSeconds + 5) == .timedOut { task.cancel() }
        let transfer = transfers.withLock { $0.removeValue(forKey: task.taskIdentifier) }
        guard let http = task.response as? HTTPURLResponse else {
            let reason = (task.error as NSError?).map { $0.localizedDescription } ?? "no answer within \(timeoutSeconds) s"
            throw .refused("\(target.host ?? url): \(reason)")
        }
        // A receiver names any number: at most a day is honoured, so a hostile one cannot overflow the wait or park
        // the destination for ever.
        let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .map { min(max($0, 0), Self.maxRetryAfterSeconds) }
        return OutboundResponse(status: http.statusCode, body: transfer?.body ?? [], retryAfter: retryAfter)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let cancel = transfers.withLock { transfers -> Bool in
            guard var transfer = transfers[dataTask.taskIdentifier] else { return false }
            let room = Self.maxBody - transfer.body.count
            transfer.body += data.prefix(max(0, room))
            transfer.truncated = data.count > room
            transfers[dataTask.taskIdentifier] = transfer
            return transfer.truncated
        }
        // Enough of the answer: the status is known, the rest is not read.
        if cancel { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        _ = transfers.withLock { $0[task.taskIdentifier]?.done.signal() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
