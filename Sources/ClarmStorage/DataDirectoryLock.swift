import ClarmSystem
import Glibc
import Synchronization

/// The one owner of a data directory: an exclusive `flock` on `DATA/LOCK`, held while the store is open,
/// with the holder's pid written into the file (docs/FORMAT.md, "Data directory").
///
/// `flock` locks belong to the open file: the kernel drops them when the holder exits, however it exits, so a
/// crashed server never leaves a stale lock behind; the pid is only there to name the holder in the error.
final class DataDirectoryLock: Sendable {
    static let name = "LOCK"

    private let descriptor: Atomic<Int32>

    private init(descriptor: Int32) {
        self.descriptor = Atomic(descriptor)
    }

    /// Takes the lock without waiting; fails at once, naming the holder, when another store has it.
    static func acquire(directory: String) throws(StoreError) -> DataDirectoryLock {
        let path = "\(directory)/\(name)"
        let fd: Int32
        do {
            fd = try retryingOnInterrupt { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        } catch {
            throw StoreError("cannot open \(path): \(error)")
        }
        do {
            try lock(fd)
        } catch {
            let holder = readHolder(fd)
            closeDescriptor(fd)
            if error.rawValue == EWOULDBLOCK {
                throw StoreError("data directory \(directory) is in use by process \(holder.map(String.init) ?? "unknown")")
            }
            throw StoreError("cannot lock \(path): \(error)")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DataDirectoryLock(descriptor: fd)
    }

    /// `flock(LOCK_EX | LOCK_NB)`, tried for up to 0.2 s: a child forked by the previous owner's process (to
    /// exec something else) shares the lock's open file until it execs, and keeps the lock that long.
    private static func lock(_ fd: Int32) throws(Errno) {
        var attempts = 0
        while true {
            do {
                _ = try retryingOnInterrupt { flock(fd, LOCK_EX | LOCK_NB) }
                return
            } catch where error.rawValue == EWOULDBLOCK && attempts < 20 {
                attempts += 1
                usleep(10_000)
            }
        }
    }

    /// The pid of the process holding `DATA/LOCK`, or nil when no live process holds it.
    static func holder(directory: String) -> Int32? {
        guard let fd = try? retryingOnInterrupt({ open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { closeDescriptor(fd) }
        // A shared lock is refused exactly while an exclusive one is held.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(fd, LOCK_UN)
            return nil
        }
        return readHolder(fd) ?? -1
    }

    private static func readHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, as: UTF8.self))
    }

    /// Gives the directory up; later calls do nothing.
    func release() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { closeDescriptor(fd) }
    }

    deinit { release() }
}
