import ClarmSystem
import Glibc

/// Time zone names of the system's tz database (`/usr/share/zoneinfo`, Debian's `tzdata`).
public struct TimeZoneNames: Sendable {
    public let directory: String

    public init(directory: String = "/usr/share/zoneinfo") {
        self.directory = directory
    }

    /// Whether `name` (such as `Europe/Berlin`) is a zone file of the database. `UTC` always is: queries
    /// need no database for it.
    public func contains(_ name: String) -> Bool {
        if name == "UTC" { return true }
        // Only plain relative names, so a name can never point outside the database.
        guard (1...SiteRegistration.maxTimezoneBytes).contains(name.utf8.count) else { return false }
        for part in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = part.first, first != ".", first != "-",
                  part.utf8.allSatisfy({ Self.isNameByte($0) }) else { return false }
        }
        return Self.startsWithTZif("\(directory)/\(name)")
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// A regular file (zones that are symbolic links, like Etc/UTC, are followed) that starts with the TZif magic (RFC 8536).
    private static func startsWithTZif(_ path: String) -> Bool {
        guard let fd = try? retryingOnInterrupt({ open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }) else { return false }
        defer { closeDescriptor(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return false }
        var header: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        let n = try? withUnsafeMutableBytes(of: &header) { buffer in try retryingOnInterrupt { read(fd, buffer.baseAddress, 4) } }
        return n == 4 && header == (0x54, 0x5A, 0x69, 0x66)
    }
}
