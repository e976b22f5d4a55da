import ClarmSystem
import Glibc

/// Replacing a small file whole so that a crash leaves the old one or the new one: a temporary file written and
/// fsynced, renamed over the file, and the directory fsynced.
enum DurableFile {
    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t) throws(IntegrationError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .notSaved("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        do throws(Errno) {
            try writeAll(fd, bytes)
            _ = try retryingOnInterrupt { fsync(fd) }
        } catch {
            closeDescriptor(fd)
            unlink(temporary)
            throw .notSaved("write \(temporary): \(error)")
        }
        closeDescriptor(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .notSaved("rename \(temporary): \(reason)")
        }
        try syncDirectory(of: path)
    }

    /// Makes the creation, renaming or removal of `path` durable: fsyncs the directory holding it.
    static func syncDirectory(of path: String) throws(IntegrationError) {
        let directory = parent(path)
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if dir >= 0 { closeDescriptor(dir) } }
        guard dir >= 0, fsync(dir) == 0 else { throw .notSaved("fsync \(directory): \(String(cString: strerror(errno)))") }
    }

    /// Removes `path` durably; a file already gone is no error.
    static func remove(_ path: String) throws(IntegrationError) {
        if unlink(path) != 0 {
            guard errno == ENOENT else { throw .notSaved("unlink \(path): \(String(cString: strerror(errno)))") }
            return
        }
        try syncDirectory(of: path)
    }

    private static func parent(_ path: String) -> String {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        return directory.isEmpty ? "." : directory
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            offset += try retryingOnInterrupt { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) } }
        }
    }

    /// `directory` exists (created with `mode` when not, and its parent then fsynced so it stays).
    static func makeDirectory(_ directory: String, mode: mode_t) throws(IntegrationError) {
        guard mkdir(directory, mode) == 0 else {
            guard errno == EEXIST else { throw .notSaved("mkdir \(directory): \(String(cString: strerror(errno)))") }
            return
        }
        try syncDirectory(of: directory)
    }
}
