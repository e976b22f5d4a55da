import CClarmLinux
import ClarmSystem
import Glibc

/// Opens non-blocking listening TCP sockets; several may share a port through SO_REUSEPORT.
public enum Listener {
    /// Binds `host:port` (a numeric address or a name such as `localhost`) and listens; returns the
    /// descriptor and the port bound, which differs from `port` when that is 0.
    static func open(host: String, port: Int, backlog: Int32) throws(ServerError) -> (fd: Int32, port: Int) {
        try withAddress(host: host, port: port) { info throws(ServerError) in try open(info, host: host, port: port, backlog: backlog) }
    }

    /// Whether `host` is a loopback address (127.0.0.0/8, ::1, or a name such as `localhost` resolving to one),
    /// so that only this machine can reach a listener on it.
    public static func isLoopback(host: String) throws(ServerError) -> Bool {
        try withAddress(host: host, port: 0) { info in
            switch info.pointee.ai_family {
            case AF_INET:
                let address = info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                return UInt32(bigEndian: address) >> 24 == 127
            case AF_INET6:
                var bytes = info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                return withUnsafeBytes(of: &bytes) { Array($0) == Array(repeating: 0, count: 15) + [1] }
            default:
                return false
            }
        }
    }

    /// Calls `body` with the address `open` binds: the first that `host` resolves to.
    private static func withAddress<T>(host: String, port: Int,
                                       _ body: (UnsafeMutablePointer<addrinfo>) throws(ServerError) -> T) throws(ServerError) -> T {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let info = result else {
            throw ServerError.resolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        return try body(info)
    }

    private static func open(_ info: UnsafeMutablePointer<addrinfo>, host: String, port: Int, backlog: Int32) throws(ServerError) -> (fd: Int32, port: Int) {
        let fd: Int32
        do {
            fd = try retryingOnInterrupt {
                socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            }
        } catch {
            throw ServerError.socket(operation: "socket", error)
        }
        do {
            var one: Int32 = 1
            let size = socklen_t(MemoryLayout<Int32>.size)
            _ = try retryingOnInterrupt { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) }
            _ = try retryingOnInterrupt { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) }
            _ = try retryingOnInterrupt { bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) }
            _ = try retryingOnInterrupt { listen(fd, backlog) }
        } catch {
            closeDescriptor(fd)
            throw ServerError.socket(operation: "bind \(host):\(port)", error)
        }
        return (fd, boundPort(fd))
    }

    private static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        // getsockname writes at most `length` bytes into the storage, which fits any address family.
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in.self).sin_port)) }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in6.self).sin6_port)) }
        default:
            return 0
        }
    }
}

/// Why the server could not start.
public enum ServerError: Error, CustomStringConvertible {
    case resolve(host: String, reason: String)
    case socket(operation: String, Errno)
    case epoll(Errno)

    public var description: String {
        switch self {
        case .resolve(let host, let reason): "cannot resolve \(host): \(reason)"
        case .socket(let operation, let errno): "\(operation) failed: \(errno)"
        case .epoll(let errno): "epoll setup failed: \(errno)"
        }
    }
}
