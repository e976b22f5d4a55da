import Foundation

/// Small files of `DATA/clickhouse/` replaced whole and durably: a temporary file written and fsynced, renamed
/// over the old one, the directory fsynced; a crash leaves the old file or the new one, never a mix.
enum DurableFile {
    static func write(_ data: Data, to path: String, directory: String) throws {
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try out.write(contentsOf: data)
        try out.synchronize()
        try out.close()
        guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        try syncDirectory(directory)
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}
