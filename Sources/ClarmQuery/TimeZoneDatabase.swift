import ClarmSystem
import Glibc
import Synchronization

/// The system's tz database (`/usr/share/zoneinfo`, Debian's `tzdata`): zones by name, parsed once and kept
/// in a bounded cache.
public final class TimeZoneDatabase: Sendable {
    public let directory: String
    private let cache = Mutex([String: TimeZoneRules]())

    /// Zones kept parsed; past this, a zone is read again on each use (a few kilobytes, microseconds).
    public static let maxCachedZones = 256
    public static let maxNameBytes = 64

    public static let system = TimeZoneDatabase()

    public init(directory: String = "/usr/share/zoneinfo") {
        self.directory = directory
    }

    /// The zone called `name` (such as `Europe/Berlin`); `UTC` needs no file.
    public func rules(named name: String) throws(TimeZoneFileError) -> TimeZoneRules {
        if name == "UTC" { return .utc }
        if let cached = cache.withLock({ $0[name] }) { return cached }
        guard Self.isPlainName(name) else {
            throw TimeZoneFileError("not a zone name of the tz database, such as Europe/Berlin or UTC")
        }
        let rules = try TimeZoneRules.parse(name: name, read("\(directory)/\(name)"))
        cache.withLock { cache in
            if cache.count < Self.maxCachedZones { cache[name] = rules }
        }
        return rules
    }

    /// Only plain relative names (letters, digits, `_ - + .`, no part starting with `.` or `-`), so a name can
    /// never point outside the database.
    public static func isPlainName(_ name: String) -> Bool {
        guard (1...maxNameBytes).contains(name.utf8.count) else { return false }
        for part in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = part.first, first != ".", first != "-",
                  part.utf8.allSatisfy({ isNameByte($0) }) else { return false }
        }
        return true
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// A regular file's bytes (symbolic links such as Etc/UTC followed), at most one byte past the cap so that
    /// a larger file is reported as such.
    private func read(_ path: String) throws(TimeZoneFileError) -> [UInt8] {
        let fd: Int32
        do throws(Errno) {
            fd = try retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        } catch {
            throw TimeZoneFileError(error.rawValue == ENOENT ? "not in the time zone database" : "cannot be read: \(error)")
        }
        defer { closeDescriptor(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw TimeZoneFileError("not in the time zone database")
        }
        var bytes = [UInt8](repeating: 0, count: TimeZoneRules.maxFileBytes + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(Errno) in try retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count) } }
            }
            guard case .success(let n) = n else { throw TimeZoneFileError("cannot be read") }
            if n == 0 { break }
            count += n
        }
        return Array(bytes[..<count])
    }
}
