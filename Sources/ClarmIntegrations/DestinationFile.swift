import ClarmJSON
import ClarmSystem
import Glibc

/// `DATA/destinations.json` (docs/FORMAT.md, "Destinations"): every destination with its secrets, mode 0600,
/// rewritten whole on each change (temporary file, fsync, rename, directory fsync) before the change is answered.
enum DestinationFile {
    static let name = "destinations.json"

    static func load(directory: String) throws(IntegrationError) -> [Destination] {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw .notSaved("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .notSaved("cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= 16 << 20 else { throw .notSaved("\(path) is larger than 16 MiB") }
        }
        let document: JSONValue
        do {
            document = try bytes.withUnsafeBytes { try JSONValue.parse($0) }
        } catch {
            throw .notSaved("\(path) is not JSON: \(error)")
        }
        guard document["clarm_destinations"] == .number("1"), let list = document["destinations"]?.array else {
            throw .notSaved("\(path) is not a Clarm destinations file (version 1)")
        }
        var destinations: [Destination] = []
        for item in list {
            guard let id = item["id"]?.string else { throw .notSaved("\(path): a destination without id") }
            do throws(IntegrationError) {
                destinations.append(try Destination.parse(item, id: id))
            } catch {
                throw .notSaved("\(path): destination \(id): \(error)")
            }
        }
        return destinations
    }

    static func save(_ destinations: [Destination], directory: String) throws(IntegrationError) {
        var json = JSONWriter(capacity: 4096)
        json.raw(#"{"clarm_destinations":1,"destinations":["#)
        for (i, destination) in destinations.enumerated() {
            json.raw(i == 0 ? "\n" : ",\n")
            destination.write(into: &json, secrets: true)
            json.raw("}")
        }
        json.raw("\n]}\n")
        try DurableFile.replace("\(directory)/\(name)", with: json.bytes, mode: 0o600)
    }
}
