import Glibc
import Synchronization
@testable import ClarmStorage

/// A file system over real files that fails chosen operations and can simulate a power cut.
///
/// Faults: the Nth write, fsync, rename, truncate or segment open (counted from 1 since the rule was set)
/// fails with the given errno, once or from then on. Power cut: every file loses what was written after its last successful fsync.
/// Renames and removals are taken as durable at once (a simplification: real file systems need the
/// directory fsync, which the store always issues).
final class FaultInjectingFileSystem: FileSystem, @unchecked Sendable {
    enum Operation: Hashable { case write, sync, rename, truncate, openSegment }

    struct Rule {
        var nth: Int
        var forever: Bool
        var errno: Int32
        var seen = 0
    }

    private let base = PosixFileSystem()
    private let state = Mutex(State())

    private struct State {
        var rules: [Operation: Rule] = [:]
        var syncedSize: [String: Int] = [:]
        var failures = 0
        var afterRename: (@Sendable (String) -> Void)?
    }

    /// Runs `body` with the destination of every successful rename, before the caller goes on: a test can
    /// copy the directory there to see what a crash at that moment would leave.
    func afterRename(_ body: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.afterRename = body }
    }

    func fail(_ operation: Operation, nth: Int = 1, forever: Bool = false, errno: Int32 = EIO) {
        state.withLock { $0.rules[operation] = Rule(nth: nth, forever: forever, errno: errno) }
    }

    func heal() {
        state.withLock { $0.rules.removeAll() }
    }

    var failures: Int { state.withLock { $0.failures } }

    /// Throws when the rule for `operation` says this one fails.
    func check(_ operation: Operation, _ path: String) throws(StorageIOError) {
        let errno: Int32? = state.withLock { state in
            guard var rule = state.rules[operation] else { return nil }
            rule.seen += 1
            state.rules[operation] = rule
            if rule.seen == rule.nth || (rule.forever && rule.seen > rule.nth) {
                state.failures += 1
                return rule.errno
            }
            return nil
        }
        if let errno { throw StorageIOError("\(operation) (injected)", path, errno: errno) }
    }

    func recordSync(_ path: String, size: Int) {
        state.withLock { $0.syncedSize[path] = size }
    }

    /// Drops every byte not covered by a successful fsync, as losing power would.
    func powerCut() {
        let sizes = state.withLock { $0.syncedSize }
        for (path, size) in sizes where base.exists(path) {
            truncate(path, off_t(size))
        }
    }

    func create(_ path: String) throws(StorageIOError) -> AppendableFile {
        let file = try base.create(path)
        recordSync(path, size: 0)
        return FaultyFile(file, fileSystem: self)
    }

    func readAll(_ path: String) throws(StorageIOError) -> [UInt8] { try base.readAll(path) }
    func read(_ path: String, offset: Int, count: Int) throws(StorageIOError) -> [UInt8] {
        try base.read(path, offset: offset, count: count)
    }
    func size(_ path: String) throws(StorageIOError) -> Int { try base.size(path) }

    func rename(_ from: String, _ to: String) throws(StorageIOError) {
        try check(.rename, from)
        try base.rename(from, to)
        let hook = state.withLock { state in
            state.syncedSize[to] = state.syncedSize.removeValue(forKey: from)
            return state.afterRename
        }
        hook?(to)
    }

    func syncDirectory(_ path: String) throws(StorageIOError) {
        try check(.sync, path)
        try base.syncDirectory(path)
    }

    func remove(_ path: String) throws(StorageIOError) {
        try base.remove(path)
        _ = state.withLock { $0.syncedSize.removeValue(forKey: path) }
    }

    func list(_ directory: String) throws(StorageIOError) -> [String] { try base.list(directory) }
    func makeDirectory(_ path: String) throws(StorageIOError) { try base.makeDirectory(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }

    func openSegment(_ path: String) throws(SegmentCorruption) -> Segment {
        do throws(StorageIOError) {
            try check(.openSegment, path)
        } catch {
            throw SegmentCorruption(path: path, reason: "cannot open (injected): \(error)")
        }
        return try base.openSegment(path)
    }
}

private final class FaultyFile: AppendableFile {
    let file: AppendableFile
    unowned let fileSystem: FaultInjectingFileSystem

    init(_ file: AppendableFile, fileSystem: FaultInjectingFileSystem) {
        self.file = file
        self.fileSystem = fileSystem
    }

    var path: String { file.path }
    var size: Int { file.size }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StorageIOError) {
        do {
            try fileSystem.check(.write, path)
        } catch {
            // A failing write may still leave part of its bytes behind, as a real short write can.
            try? file.append(UnsafeRawBufferPointer(rebasing: bytes.prefix(bytes.count / 2)))
            throw error
        }
        try file.append(bytes)
    }

    func sync() throws(StorageIOError) {
        try fileSystem.check(.sync, path)
        try file.sync()
        fileSystem.recordSync(path, size: file.size)
    }

    func truncate(to size: Int) throws(StorageIOError) {
        try fileSystem.check(.truncate, path)
        try file.truncate(to: size)
        fileSystem.recordSync(path, size: size)
    }

    func close() { file.close() }
}
