import Glibc

/// A storage I/O failure: the operation, the path and the errno.
public struct StorageIOError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}

/// A file being appended to. All writes go through `FileSystem` so tests can inject faults.
public protocol AppendableFile: AnyObject {
    var path: String { get }
    /// Bytes written so far.
    var size: Int { get }
    /// Writes all of `bytes` at the end; on failure the file may hold a prefix of them.
    func append(_ bytes: UnsafeRawBufferPointer) throws(StorageIOError)
    /// fsync(2). After a failure the file must not be trusted: callers abandon it.
    func sync() throws(StorageIOError)
    /// Cuts the file back to `size` bytes and fsyncs, so bytes past it are gone for good.
    func truncate(to size: Int) throws(StorageIOError)
    func close()
}

/// The file operations storage needs, as a seam for fault injection.
public protocol FileSystem: Sendable {
    /// Creates (or truncates) a file for appending.
    func create(_ path: String) throws(StorageIOError) -> AppendableFile
    func readAll(_ path: String) throws(StorageIOError) -> [UInt8]
    /// Up to `count` bytes from `offset` (pread(2)); fewer at the end of the file. Readers of a log being
    /// appended to use it to read up to its commit point without touching the writer.
    func read(_ path: String, offset: Int, count: Int) throws(StorageIOError) -> [UInt8]
    /// The file's size in bytes (stat(2)).
    func size(_ path: String) throws(StorageIOError) -> Int
    func rename(_ from: String, _ to: String) throws(StorageIOError)
    /// fsync(2) of a directory, making renames and creations in it durable.
    func syncDirectory(_ path: String) throws(StorageIOError)
    func remove(_ path: String) throws(StorageIOError)
    func list(_ directory: String) throws(StorageIOError) -> [String]
    func makeDirectory(_ path: String) throws(StorageIOError)
    func exists(_ path: String) -> Bool
    /// Maps a segment file (a seam so tests can make a just-published segment fail to open).
    func openSegment(_ path: String) throws(SegmentCorruption) -> Segment
}

extension FileSystem {
    public func openSegment(_ path: String) throws(SegmentCorruption) -> Segment {
        try Segment(path: path)
    }

    /// Writes `bytes` to `path.tmp`, fsyncs it, renames it to `path` and fsyncs the directory: afterwards
    /// `path` holds all of `bytes` or, after a crash before the rename, what it held before.
    func publish(_ bytes: [UInt8], as path: String, in directory: String) throws(StorageIOError) {
        let temporary = path + ".tmp"
        let file = try create(temporary)
        defer { file.close() }
        try bytes.withBytes { raw throws(StorageIOError) in try file.append(raw) }
        try file.sync()
        try rename(temporary, path)
        try syncDirectory(directory)
    }
}
