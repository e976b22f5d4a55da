import CClarmLinux
import ClarmSystem
import Glibc
import ClarmHTTP

/// One client connection: its input buffer and parser state, its pending output, and its deadlines.
/// Owned by a single event loop and touched only on that loop's thread.
final class Connection {
    enum Phase: Equatable {
        case head
        case body(length: Int)
        case chunked
        /// The handler suspended the response; nothing more is parsed until it is resumed.
        case awaitingResponse(keepAlive: Bool, omitBody: Bool, minorVersion: Int)
        /// The last response is written and our side shut down; unread input is drained and dropped.
        case lingering
    }

    let fd: Int32
    /// Tells this connection from later ones on the same descriptor.
    let serial: UInt64
    /// The address of the other end, as accept reported it.
    let peer: IPAddress
    /// Whether the per-address connection count includes this connection.
    let countedForPeer: Bool
    var phase = Phase.head
    var parser: HTTPRequestParser
    var chunked: HTTPChunkedDecoder

    // Input: bytes [start, end) of `input` are received and not yet consumed.
    private(set) var input: UnsafeMutableRawPointer
    private(set) var capacity: Int
    var start = 0
    var end = 0

    // Output: bytes [sent, output.count) still to be written.
    var output: [UInt8] = []
    var sent = 0

    var closeAfterWrite = false
    /// While a response is suspended: the watch its preparer reads, and the handler's label for it.
    var watch: ConnectionWatch?
    var suspendedLabel: UInt8 = 0
    var peerClosed = false
    /// The epoll events currently registered.
    var interest: UInt32 = 0

    var lastActivity: Int64
    var requestStartedAt: Int64 = 0
    var bodyStartedAt: Int64 = 0
    var lastWriteProgress: Int64 = 0
    var lingerDeadline: Int64 = 0

    static let initialCapacity = 8 * 1024
    static let minimumRead = 4 * 1024

    init(fd: Int32, serial: UInt64, peer: IPAddress, countedForPeer: Bool, limits: HTTPLimits, now: Int64) {
        self.fd = fd
        self.serial = serial
        self.peer = peer
        self.countedForPeer = countedForPeer
        self.parser = HTTPRequestParser(limits: limits)
        self.chunked = HTTPChunkedDecoder(limits: limits)
        self.capacity = Self.initialCapacity
        self.input = UnsafeMutableRawPointer.allocate(byteCount: Self.initialCapacity, alignment: 16)
        self.lastActivity = now
        output.reserveCapacity(1024)
    }

    deinit {
        input.deallocate()
    }

    var buffered: Int { end - start }
    /// Whether a read has somewhere to go without growing the buffer.
    var hasReadRoom: Bool { end < capacity || start > 0 }
    var pendingOutput: Int { output.count - sent }
    var isIdle: Bool { phase == .head && buffered == 0 && pendingOutput == 0 && requestStartedAt == 0 }

    /// The received bytes from the start of the current request.
    var unconsumed: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: input + start, count: end - start) }

    /// The received bytes of the current request from `offset` on, for decoding in place.
    func received(from offset: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: input + start + offset, count: end - start - offset)
    }

    func consume(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Makes room for at least `minimumRead` bytes after `end`, up to `maximum` bytes in all.
    func reserveForRead(maximum: Int) {
        if capacity - end >= Self.minimumRead { return }
        compact()
        if capacity - end >= Self.minimumRead || capacity >= maximum { return }
        grow(to: min(maximum, max(capacity * 2, end + Self.minimumRead)))
    }

    /// Makes the buffer hold `count` bytes from the current request's start.
    func reserveRequest(_ count: Int) {
        if start + count <= capacity { return }
        compact()
        if count > capacity { grow(to: count) }
    }

    private func compact() {
        guard start > 0 else { return }
        // Source and destination lie in `input` and may overlap; copyMemory has memmove semantics.
        input.copyMemory(from: input + start, byteCount: end - start)
        end -= start
        start = 0
    }

    private func grow(to newCapacity: Int) {
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        // Both buffers hold at least `end` bytes; the old one is freed right after.
        bigger.copyMemory(from: input, byteCount: end)
        input.deallocate()
        input = bigger
        capacity = newCapacity
    }

    /// Returns a large buffer to its initial size once it holds nothing.
    func shrinkIfIdle() {
        guard buffered == 0, capacity > 4 * Self.initialCapacity else { return }
        input.deallocate()
        input = UnsafeMutableRawPointer.allocate(byteCount: Self.initialCapacity, alignment: 16)
        capacity = Self.initialCapacity
        start = 0
        end = 0
    }

    /// Reads once into the free space; returns bytes read, 0 at end of stream.
    func read() throws(Errno) -> Int {
        let count = capacity - end
        let n = try retryingOnInterrupt { Glibc.read(fd, input + end, count) }
        end += n
        return n
    }

    /// Writes as much pending output as the socket takes; returns true when all is written.
    func write(now: Int64) throws(Errno) -> Bool {
        while sent < output.count {
            let n = output.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN: return false
                case let error: throw Errno(error)
                }
            }
            sent += n
            lastWriteProgress = now
        }
        output.removeAll(keepingCapacity: true)
        sent = 0
        return true
    }
}
