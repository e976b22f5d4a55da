import CClarmLinux
import ClarmSystem
import Glibc
import Histogram

/// What one thread of load saw.
struct LoadResult {
    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var requests = 0
    var events = 0
    var bytesSent = 0
    var accepted = 0
    var statuses: [Int: Int] = [:]
    var errors = 0

    mutating func add(_ other: LoadResult) {
        latency.add(other.latency)
        requests += other.requests
        events += other.events
        bytesSent += other.bytesSent
        accepted += other.accepted
        statuses.merge(other.statuses, uniquingKeysWith: +)
        errors += other.errors
    }
}

struct LoadPlan {
    var address: sockaddr_in
    var host: [UInt8]
    var connections: Int
    var depth: Int
    var eventsPerRequest: Int
    /// Requests per second for this thread (open loop), or nil for closed loop.
    var rate: Double?
    /// Monotonic microseconds when the load stops.
    var deadline: Int64
    /// Requests this thread sends at most.
    var requestLimit: Int
}

/// One client connection with its request pipeline.
private final class Client {
    var fd: Int32 = -1
    var output = ByteWriter()
    var sent = 0
    var input = [UInt8](repeating: 0, count: 64 * 1024)
    var inputEnd = 0
    /// Intended send times (µs) of the requests in flight, oldest first.
    var inFlight: [Int64] = []
    var eventsInFlight: [Int] = []
}

/// An epoll loop driving `plan.connections` keep-alive connections, closed loop (each keeps `depth` requests in
/// flight) or open loop (requests are due at a fixed rate and their latency counts from when they were due, so
/// a stalled server cannot hide its stalls).
struct LoadLoop {
    var plan: LoadPlan
    var traffic: Traffic
    private var registered = 0

    init(plan: LoadPlan, traffic: Traffic) {
        self.plan = plan
        self.traffic = traffic
    }

    mutating func run() -> LoadResult {
        var result = LoadResult()
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        defer { closeDescriptor(epoll) }
        var clients: [Client] = []
        for _ in 0..<plan.connections {
            let client = Client()
            guard connect(client, epoll) else {
                result.errors += 1
                continue
            }
            clients.append(client)
        }
        var scratch = ByteWriter()
        var started = 0
        let interval = plan.rate.map { 1_000_000 / $0 } ?? 0
        var nextDue = Double(now())
        var events = [epoll_event](repeating: epoll_event(), count: 256)

        // After the deadline no request starts; those in flight get up to 10 s to be answered and counted.
        while true {
            let time = now()
            let starting = time < plan.deadline && started < plan.requestLimit
            guard starting || (clients.contains { !$0.inFlight.isEmpty } && time < plan.deadline + 10_000_000) else { break }
            // Start requests: closed loop fills every pipeline, open loop starts those that are due.
            for client in clients where starting && client.fd >= 0 && client.inFlight.count < plan.depth && started < plan.requestLimit {
                var intended = now()
                if plan.rate != nil {
                    guard nextDue <= Double(intended) else { break }
                    intended = Int64(nextDue)
                    nextDue += interval
                }
                let before = client.output.bytes.count
                traffic.request(events: plan.eventsPerRequest, host: plan.host, into: &client.output, scratch: &scratch)
                result.bytesSent += client.output.bytes.count - before
                client.inFlight.append(intended)
                client.eventsInFlight.append(plan.eventsPerRequest)
                started += 1
                flush(client, &result)
            }
            let timeout: Int32 = plan.rate == nil ? 100 : 1
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, 256, timeout) }
            for i in 0..<Int(max(0, count)) {
                let index = Int(events[i].data.u32)
                let client = clients[index]
                if events[i].events & EPOLLOUT.rawValue != 0 { flush(client, &result) }
                if events[i].events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                    read(client, &result)
                }
            }
        }
        for client in clients where client.fd >= 0 { closeDescriptor(client.fd) }
        return result
    }

    private func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    private mutating func connect(_ client: Client, _ epoll: Int32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        var address = plan.address
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            closeDescriptor(fd)
            return false
        }
        _ = clarm_set_tcp_nodelay(fd)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLET.rawValue
        event.data.u32 = UInt32(registered)
        registered += 1
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            closeDescriptor(fd)
            return false
        }
        client.fd = fd
        return true
    }

    private func flush(_ client: Client, _ result: inout LoadResult) {
        while client.sent < client.output.bytes.count {
            let n = client.output.bytes.withUnsafeBytes { send(client.fd, $0.baseAddress! + client.sent, $0.count - client.sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                fail(client, &result)
                return
            }
            client.sent += n
        }
        client.output.bytes.removeAll(keepingCapacity: true)
        client.sent = 0
    }

    private func read(_ client: Client, _ result: inout LoadResult) {
        while client.fd >= 0 {
            if client.inputEnd == client.input.count { client.input.append(contentsOf: repeatElement(0, count: client.input.count)) }
            let n = client.input.withUnsafeMutableBytes { Glibc.read(client.fd, $0.baseAddress! + client.inputEnd, $0.count - client.inputEnd) }
            if n == 0 { fail(client, &result); return }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                fail(client, &result)
                return
            }
            client.inputEnd += n
        }
        // Take every complete response.
        var consumed = 0
        while let response = client.input.withUnsafeBytes({ ResponseReader.read(UnsafeRawBufferPointer(rebasing: $0[consumed..<client.inputEnd])) }) {
            consumed += response.length
            guard !client.inFlight.isEmpty else { continue }
            let intended = client.inFlight.removeFirst()
            let events = client.eventsInFlight.removeFirst()
            _ = result.latency.record(UInt64(max(0, now() - intended)))
            result.requests += 1
            result.statuses[response.status, default: 0] += 1
            if response.status == 202 {
                result.events += events
                result.accepted += response.accepted
            }
        }
        if consumed > 0 {
            client.input.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + consumed, byteCount: client.inputEnd - consumed)
            }
            client.inputEnd -= consumed
        }
    }

    /// A connection that failed: its requests in flight count as errors, and it is not used again.
    private func fail(_ client: Client, _ result: inout LoadResult) {
        result.errors += client.inFlight.count + 1
        client.inFlight.removeAll()
        client.eventsInFlight.removeAll()
        closeDescriptor(client.fd)
        client.fd = -1
    }
}

/// Just enough of a response to account for it: status, length, and `accepted` from a 202's JSON.
enum ResponseReader {
    struct Response {
        var status: Int
        var length: Int
        var accepted: Int
    }

    static func read(_ bytes: UnsafeRawBufferPointer) -> Response? {
        guard bytes.count >= 16 else { return nil }
        var end = -1
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                end = i + 4
                break
            }
            i += 1
        }
        guard end > 0 else { return nil }
        let status = (Int(bytes[9]) - 48) * 100 + (Int(bytes[10]) - 48) * 10 + (Int(bytes[11]) - 48)
        let length = number(after: "\r\nContent-Length: ", in: UnsafeRawBufferPointer(rebasing: bytes[0..<end])) ?? 0
        guard end + length <= bytes.count else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[end..<(end + length)])
        return Response(status: status, length: end + length, accepted: status == 202 ? number(after: #""accepted":"#, in: body) ?? 0 : 0)
    }

    private static func number(after key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
        key.withUTF8Buffer { key in
            guard bytes.count >= key.count else { return nil }
            var i = 0
            while i + key.count <= bytes.count {
                if UnsafeRawBufferPointer(rebasing: bytes[i..<(i + key.count)]).elementsEqual(key) {
                    var j = i + key.count, value = 0
                    while j < bytes.count, bytes[j] &- 48 < 10 {
                        value = value * 10 + Int(bytes[j] - 48)
                        j += 1
                    }
                    return value
                }
                i += 1
            }
            return nil
        }
    }
}
