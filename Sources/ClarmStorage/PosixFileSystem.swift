import ClarmSystem
import Glibc

/// The real file system, through POSIX calls retried on EINTR.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func create(_ path: String) throws(StorageIOError) -> AppendableFile {
        let fd = try retry("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        return PosixAppendableFile(fd: fd, path: path)
    }

    public func readAll(_ path: String) throws(StorageIOError) -> [UInt8] {
        let fd = try retry("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try retry("read", path) { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    public func read(_ path: String, offset: Int, count: Int) throws(StorageIOError) -> [UInt8] {
        let fd = try retry("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try retry("pread", path) {
                result.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, count - filled, off_t(offset + filled)) }
            }
            if n == 0 { break }
            filled += n
        }
        result.removeLast(count - filled)
        return result
    }

    public func size(_ path: String) throws(StorageIOError) -> Int {
        var info = stat()
        _ = try retry("stat", path) { stat(path, &info) }
        return Int(info.st_size)
    }

    public func rename(_ from: String, _ to: String) throws(StorageIOError) {
        _ = try retry("rename", from) { Glibc.rename(from, to) }
    }

    public func syncDirectory(_ path: String) throws(StorageIOError) {
        let fd = try retry("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        _ = try retry("fsync", path) { fsync(fd) }
    }

    public func remove(_ path: String) throws(StorageIOError) {
        _ = try retry("unlink", path) { unlink(path) }
    }

    public func list(_ directory: String) throws(StorageIOError) -> [String] {
        guard let dir = opendir(directory) else { throw StorageIOError("opendir", directory, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func makeDirectory(_ path: String) throws(StorageIOError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw StorageIOError("mkdir", path, errno: errno) }
    }

    public func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}

final class PosixAppendableFile: AppendableFile {
    let fd: Int32
    let path: String
    private(set) var size = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StorageIOError) {
        var offset = 0
        while offset < bytes.count {
            let n = try retry("write", path) { write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            offset += n
            size += n
        }
    }

    func sync() throws(StorageIOError) {
        _ = try retry("fsync", path) { fdatasync(fd) }
    }

    func truncate(to size: Int) throws(StorageIOError) {
        _ = try retry("ftruncate", path) { ftruncate(fd, off_t(size)) }
        self.size = size
        try sync()
    }

    func close() {
        Glibc.close(fd)
    }
}

/// Runs a call that returns -1 with errno on failure, retrying on EINTR; names the operation and path.
func retry<T: FixedWidthInteger>(_ operation: String, _ path: String, _ call: () -> T) throws(StorageIOError) -> T {
    do {
        return try retryingOnInterrupt(call)
    } catch {
        throw StorageIOError(operation, path, errno: error.rawValue)
    }
}
