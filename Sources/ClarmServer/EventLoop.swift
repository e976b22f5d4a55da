import ClarmSystem
import Glibc
import CClarmLinux
import ClarmHTTP
import Synchronization

/// State every loop of a server shares.
final class ServerShared: Sendable {
    let configuration: ServerConfiguration
    let makeHandler: @Sendable () -> HTTPHandler
    let connectionCount = Atomic<Int>(0)
    let connectionsPerAddress: ConnectionsPerAddress

    init(configuration: ServerConfiguration, makeHandler: @escaping @Sendable () -> HTTPHandler) {
        self.configuration = configuration
        self.makeHandler = makeHandler
        connectionsPerAddress = ConnectionsPerAddress(limit: configuration.maxConnectionsPerAddress)
    }
}

/// One epoll loop on its own thread: accepts from its listening socket and serves its connections.
///
/// Everything but `requestStop` runs on the loop's thread.
final class EventLoop: @unchecked Sendable {
    private let shared: ServerShared
    private let configuration: ServerConfiguration
    private let epollFD: Int32
    let wakeFD: Int32
    private var listenerFD: Int32
    private let stopRequested = Atomic<Bool>(false)

    struct Resumption {
        let pending: PendingResponse
        let write: @Sendable (inout HTTPResponseWriter) -> Void
    }

    /// Suspended responses handed back by other threads, taken on the next turn; `open` until the loop ends.
    /// Other threads write to `wakeFD` only under this lock while `open`, and the loop closes it under the same
    /// lock when it ends, so no late writer (a store completing after shutdown) reaches the number once closed,
    /// when it may already name another file.
    private struct Inbox {
        var resumptions: [Resumption] = []
        var open = true
    }
    private let inbox = Mutex(Inbox())
    private var taken: [Resumption] = []
    private var nextSerial: UInt64 = 0

    private var handler: HTTPHandler!
    private var connections: [Connection?] = []
    private var liveConnections = 0
    private var now: Int64 = 0
    private var nextSweep: Int64 = 0
    private var date = HTTPDate()
    private var draining = false
    private var drainDeadline: Int64 = 0
    private var listenerPausedUntil: Int64 = 0
    /// Bytes read from lingering connections go here and are dropped.
    private var discard = [UInt8](repeating: 0, count: 4096)

    private static let maxEvents: Int32 = 256
    private static let sweepInterval: Int64 = 250
    private static let lingerTime: Int64 = 2_000
    /// Pending output beyond which a connection's further requests wait (backpressure).
    private static let outputHighWater = 64 * 1024
    private let maxInput: Int

    init(shared: ServerShared, listenerFD: Int32) throws(ServerError) {
        self.shared = shared
        self.configuration = shared.configuration
        self.listenerFD = listenerFD
        let limits = configuration.limits
        maxInput = limits.maxRequestLine + limits.maxHeaderSection + limits.maxBody + limits.maxChunkFraming + 64 * 1024
        do {
            epollFD = try retryingOnInterrupt { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        } catch {
            throw .epoll(error)
        }
        do {
            wakeFD = try retryingOnInterrupt { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
            try register(wakeFD, events: EPOLLIN.rawValue)
            try register(listenerFD, events: EPOLLIN.rawValue)
        } catch {
            closeDescriptor(epollFD)
            throw .epoll(error)
        }
    }

    /// Asks the loop to stop accepting, finish requests in flight, and return from `run`. Any thread.
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        inbox.withLock { inbox in
            if inbox.open { wake() }
        }
    }

    /// Queues suspended responses for this loop's thread. Any thread. Once the loop has ended (its connections
    /// are closed) it does nothing.
    func resume(_ resumptions: [Resumption]) {
        inbox.withLock { inbox in
            guard inbox.open else { return }
            let wasEmpty = inbox.resumptions.isEmpty
            inbox.resumptions.append(contentsOf: resumptions)
            if wasEmpty { wake() }
        }
    }

    /// Called with the inbox locked and open. The eventfd is non-blocking, so this never waits.
    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Closes the loop's own descriptors: at the end of `run`, or instead of it for a loop that never ran.
    func closeDescriptors() {
        inbox.withLock { inbox in
            inbox.open = false
            inbox.resumptions.removeAll()
            closeDescriptor(wakeFD)
        }
        closeDescriptor(epollFD)
        if listenerFD >= 0 {
            closeDescriptor(listenerFD)
            listenerFD = -1
        }
    }

    func run() {
        handler = shared.makeHandler()
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(Self.maxEvents))
        defer {
            events.deallocate()
            closeDescriptors()
        }
        tick()
        while true {
            let count = epoll_wait(epollFD, events, Self.maxEvents, Int32(Self.sweepInterval))
            if count < 0 && errno != EINTR {
                preconditionFailure("epoll_wait: \(Errno(errno))")
            }
            tick()
            for i in 0..<Int(max(count, 0)) {
                let fd = events[i].data.fd
                let flags = events[i].events
                if fd == listenerFD {
                    acceptConnections()
                } else if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeFD, &value, 8)
                    deliverResumptions()
                    if stopRequested.load(ordering: .acquiring) && !draining { beginDrain() }
                } else if let connection = connections[Int(fd)] {
                    serve(connection, flags: flags)
                }
            }
            if now >= nextSweep {
                sweep()
                nextSweep = now + Self.sweepInterval
            }
            if draining && (liveConnections == 0 || now >= drainDeadline) { break }
        }
        for case let connection? in connections { close(connection) }
    }

    private func tick() {
        now = monotonicMilliseconds()
        date.update(wallClockSeconds: Int(wallClockMilliseconds() / 1000))
    }

    // MARK: Accepting

    private func acceptConnections() {
        for _ in 0..<64 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            // accept4 writes at most `length` bytes, which sockaddr_storage holds for every family.
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    clarm_accept4(listenerFD, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                switch errno {
                case EAGAIN, EINTR, ECONNABORTED:
                    return
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: stop accepting for a moment instead of spinning.
                    try? modify(listenerFD, events: 0)
                    listenerPausedUntil = now + 100
                    return
                default:
                    return
                }
            }
            if shared.connectionCount.add(1, ordering: .relaxed).newValue > configuration.maxConnections {
                shared.connectionCount.subtract(1, ordering: .relaxed)
                refuse(fd, "server is at its connection limit")
                continue
            }
            let peer = IPAddress(&address) ?? .unspecified
            let capped = configuration.maxConnectionsPerAddress > 0 && !configuration.uncappedPeers.contains(peer)
            if capped && !shared.connectionsPerAddress.open(peer) {
                shared.connectionCount.subtract(1, ordering: .relaxed)
                refuse(fd, "too many connections from this address")
                continue
            }
            _ = clarm_set_tcp_nodelay(fd)
            nextSerial += 1
            let connection = Connection(fd: fd, serial: nextSerial, peer: peer, countedForPeer: capped,
                                        limits: configuration.limits, now: now)
            while connections.count <= Int(fd) { connections.append(nil) }
            connections[Int(fd)] = connection
            liveConnections += 1
            do {
                try register(fd, events: EPOLLIN.rawValue)
                connection.interest = EPOLLIN.rawValue
            } catch {
                close(connection)
            }
        }
    }

    /// Answers 503 to a connection over a limit, without waiting on it, and closes it.
    private func refuse(_ fd: Int32, _ message: StaticString) {
        var writer = HTTPResponseWriter(output: [], keepAlive: false, omitBody: false, minorVersion: 1, date: dateLine)
        handler.respondToError(.serviceUnavailable, message: message, &writer)
        handler.finished(.serviceUnavailable, label: 0)
        let bytes = writer.finish()
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        closeDescriptor(fd)
    }

    private var dateLine: [UInt8] { date.line }

    // MARK: Serving

    private func serve(_ connection: Connection, flags: UInt32) {
        if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            guard readable(connection) else { return }
        }
        if flags & EPOLLOUT.rawValue != 0 {
            flush(connection)
        }
    }

    /// Reads and answers what arrived; returns false when the connection was closed.
    private func readable(_ connection: Connection) -> Bool {
        if connection.phase == .lingering {
            return drainLingering(connection)
        }
        connection.reserveForRead(maximum: maxInput)
        guard connection.hasReadRoom else {
            // Only a connection waiting on its handler or its output fills the whole buffer; it reads again later.
            return flush(connection)
        }
        do {
            if try connection.read() == 0 { connection.peerClosed = true }
        } catch where error == .again {
            return true
        } catch {
            close(connection)
            return false
        }
        connection.lastActivity = now
        process(connection)
        if connection.peerClosed && connection.pendingOutput == 0 && !connection.closeAfterWrite {
            close(connection)
            return false
        }
        return flush(connection)
    }

    /// Parses and answers every complete request buffered, in order, until output backs up.
    private func process(_ connection: Connection) {
        let limits = configuration.limits
        while !connection.closeAfterWrite && connection.pendingOutput < Self.outputHighWater {
            switch connection.phase {
            case .lingering, .awaitingResponse:
                return
            case .head:
                guard connection.buffered > 0 else { return }
                if connection.requestStartedAt == 0 { connection.requestStartedAt = now }
                switch connection.parser.parse(connection.unconsumed) {
                case .partial:
                    if connection.peerClosed { connection.closeAfterWrite = true }
                    return
                case .failure(let error):
                    respondToError(connection, error.status, error.message)
                    return
                case .complete(let headLength):
                    switch connection.parser.head.framing {
                    case .none:
                        dispatch(connection, headLength: headLength, bodyStart: headLength, bodyCount: 0, requestLength: headLength)
                    case .contentLength(let length):
                        connection.phase = .body(length: length)
                        startBody(connection, needed: headLength + length)
                    case .chunked:
                        connection.chunked.reset()
                        connection.phase = .chunked
                        startBody(connection, needed: headLength + min(limits.maxBody, 64 * 1024))
                    }
                }
            case .body(let length):
                let headLength = connection.parser.head.length
                guard connection.buffered >= headLength + length else {
                    if connection.peerClosed { connection.closeAfterWrite = true }
                    return
                }
                dispatch(connection, headLength: headLength, bodyStart: headLength, bodyCount: length, requestLength: headLength + length)
            case .chunked:
                let headLength = connection.parser.head.length
                switch connection.chunked.decode(connection.received(from: headLength)) {
                case .partial:
                    if connection.peerClosed { connection.closeAfterWrite = true }
                    return
                case .failure(let error):
                    respondToError(connection, error.status, error.message)
                    return
                case .complete(let wireLength):
                    dispatch(connection, headLength: headLength, bodyStart: headLength,
                             bodyCount: connection.chunked.decodedCount, requestLength: headLength + wireLength)
                }
            }
        }
    }

    private func startBody(_ connection: Connection, needed: Int) {
        connection.bodyStartedAt = now
        connection.reserveRequest(needed)
        if connection.parser.head.expectsContinue && connection.buffered == connection.parser.head.length {
            HTTPResponseWriter.appendStatusLine(.continue, to: &connection.output)
            connection.output.append(contentsOf: [0x0D, 0x0A])
        }
    }

    /// Hands a complete request to the handler and queues its response.
    private func dispatch(_ connection: Connection, headLength: Int, bodyStart: Int, bodyCount: Int, requestLength: Int) {
        // Only the head's scalars outlive the handler: a copy of the head still alive at `parser.reset()` would
        // make the reset copy its header list, an allocation per request.
        let keepAlive = connection.parser.head.keepAlive && !draining && !connection.peerClosed
        let omitBody = connection.parser.head.method == .head
        let minorVersion = connection.parser.head.minorVersion
        let mark = connection.output.count
        var writer = HTTPResponseWriter(output: take(&connection.output), keepAlive: keepAlive,
                                        omitBody: omitBody, minorVersion: minorVersion, date: dateLine,
                                        pending: PendingResponse(loop: self, fd: connection.fd, serial: connection.serial, watch: nil))
        let bytes = connection.unconsumed
        handler.handle(HTTPRequest(head: connection.parser.head,
                                   bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<headLength]),
                                   body: UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + bodyCount)]),
                                   peer: connection.peer),
                       &writer)
        let state = writer.state
        let (status, label) = (writer.status, writer.label)
        connection.watch = writer.watch
        connection.output = writer.finish()
        if state == .suspended {
            connection.suspendedLabel = label
            connection.consume(requestLength)
            connection.parser.reset()
            connection.phase = .awaitingResponse(keepAlive: keepAlive, omitBody: omitBody, minorVersion: minorVersion)
            return
        }
        if state != .done {
            connection.output.removeSubrange(mark...)
            respondToError(connection, .internalServerError, "the handler wrote no response")
            return
        }
        if let status { handler.finished(status, label: label) }
        connection.consume(requestLength)
        connection.parser.reset()
        connection.phase = .head
        connection.requestStartedAt = 0
        if !keepAlive { connection.closeAfterWrite = true }
    }

    /// Writes the suspended responses other threads handed back, and carries on with their connections.
    private func deliverResumptions() {
        inbox.withLock { swap(&$0.resumptions, &taken) }
        for resumption in taken {
            let pending = resumption.pending
            guard Int(pending.fd) < connections.count, let connection = connections[Int(pending.fd)],
                  connection.serial == pending.serial,
                  case .awaitingResponse(let keepAlive, let omitBody, let minorVersion) = connection.phase
            else { continue }
            let alive = keepAlive && !draining && !connection.peerClosed
            var writer = HTTPResponseWriter(output: take(&connection.output), keepAlive: alive, omitBody: omitBody,
                                            minorVersion: minorVersion, date: dateLine)
            resumption.write(&writer)
            let complete = writer.isComplete
            if complete, let status = writer.status { handler.finished(status, label: connection.suspendedLabel) }
            connection.watch = nil
            connection.output = writer.finish()
            connection.phase = .head
            connection.requestStartedAt = 0
            if !complete {
                respondToError(connection, .internalServerError, "the handler wrote no response")
            } else if !alive {
                connection.closeAfterWrite = true
            }
            process(connection)
            flush(connection)
        }
        taken.removeAll(keepingCapacity: true)
    }

    /// Queues an error response generated by the server itself; the connection closes after it.
    private func respondToError(_ connection: Connection, _ status: HTTPStatus, _ message: StaticString) {
        var writer = HTTPResponseWriter(output: take(&connection.output), keepAlive: false, omitBody: false,
                                        minorVersion: 1, date: dateLine)
        handler.respondToError(status, message: message, &writer)
        handler.finished(status, label: 0)
        connection.output = writer.finish()
        connection.closeAfterWrite = true
    }

    /// Writes pending output; then closes, lingers, or resumes reading. Returns false when closed.
    @discardableResult
    private func flush(_ connection: Connection) -> Bool {
        let drained: Bool
        do {
            drained = try connection.write(now: now)
        } catch {
            close(connection)
            return false
        }
        if drained {
            if connection.closeAfterWrite {
                if connection.phase != .lingering { startLingering(connection) }
                return connection.phase == .lingering
            }
            if connection.buffered > 0 && connection.phase != .lingering {
                // Requests held back by backpressure are still buffered; no readiness event will come for them.
                process(connection)
                if connection.pendingOutput > 0 || connection.closeAfterWrite { return flush(connection) }
            }
            connection.shrinkIfIdle()
            if draining && connection.isIdle {
                close(connection)
                return false
            }
        }
        // A connection whose response is suspended keeps reading (into its buffer, unparsed) so that
        // the common case costs no epoll_ctl; it stops only when the buffer is full.
        let wantsRead = !connection.peerClosed && connection.pendingOutput < Self.outputHighWater
            && (connection.hasReadRoom || connection.capacity < maxInput)
        let wanted = (wantsRead ? EPOLLIN.rawValue : 0) | (connection.pendingOutput > 0 ? EPOLLOUT.rawValue : 0)
        if wanted != connection.interest {
            do {
                try modify(connection.fd, events: wanted)
                connection.interest = wanted
            } catch {
                close(connection)
                return false
            }
        }
        return true
    }

    /// Shuts down our side and drops whatever the client still sends, so our last response is not lost to a reset.
    private func startLingering(_ connection: Connection) {
        if connection.peerClosed {
            close(connection)
            return
        }
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.phase = .lingering
        connection.lingerDeadline = now + Self.lingerTime
        if connection.interest != EPOLLIN.rawValue {
            try? modify(connection.fd, events: EPOLLIN.rawValue)
            connection.interest = EPOLLIN.rawValue
        }
    }

    private func drainLingering(_ connection: Connection) -> Bool {
        while true {
            let n = discard.withUnsafeMutableBytes { Glibc.read(connection.fd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            close(connection)
            return false
        }
    }

    private func close(_ connection: Connection) {
        guard connections[Int(connection.fd)] === connection else { return }
        connection.watch?.close()
        connections[Int(connection.fd)] = nil
        closeDescriptor(connection.fd)
        liveConnections -= 1
        shared.connectionCount.subtract(1, ordering: .relaxed)
        if connection.countedForPeer { shared.connectionsPerAddress.close(connection.peer) }
    }

    // MARK: Deadlines and shutdown

    private func sweep() {
        if listenerPausedUntil != 0 && now >= listenerPausedUntil && listenerFD >= 0 {
            listenerPausedUntil = 0
            try? modify(listenerFD, events: EPOLLIN.rawValue)
        }
        for case let connection? in connections {
            if connection.phase == .lingering {
                if now >= connection.lingerDeadline { close(connection) }
            } else if case .awaitingResponse = connection.phase {
                continue  // the handler answers; a shutdown's grace period bounds the wait
            } else if connection.pendingOutput > 0 {
                if now - connection.lastWriteProgress >= configuration.writeTimeout { close(connection) }
            } else if connection.phase != .head {
                if now - connection.bodyStartedAt >= configuration.bodyTimeout { timeOut(connection) }
            } else if connection.requestStartedAt != 0 {
                if now - connection.requestStartedAt >= configuration.headerTimeout { timeOut(connection) }
            } else if now - connection.lastActivity >= configuration.idleTimeout {
                close(connection)
            }
        }
    }

    private func timeOut(_ connection: Connection) {
        respondToError(connection, .requestTimeout, "request not received in time")
        flush(connection)
    }

    private func beginDrain() {
        draining = true
        drainDeadline = now + configuration.shutdownGrace
        if listenerFD >= 0 {
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, listenerFD, nil)
            closeDescriptor(listenerFD)
            listenerFD = -1
        }
        for case let connection? in connections where connection.isIdle {
            close(connection)
        }
    }

    // MARK: epoll

    private func register(_ fd: Int32, events: UInt32) throws(Errno) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = try retryingOnInterrupt { epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) }
    }

    private func modify(_ fd: Int32, events: UInt32) throws(Errno) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = try retryingOnInterrupt { epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) }
    }
}

/// Moves an array out of its storage without copying its buffer, leaving an empty one behind.
@inline(__always)
private func take(_ array: inout [UInt8]) -> [UInt8] {
    var taken: [UInt8] = []
    swap(&taken, &array)
    return taken
}
