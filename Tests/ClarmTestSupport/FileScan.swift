import Foundation

/// The files under `directory` (at any depth) whose bytes contain `needle` anywhere, by path relative to it:
/// a check that personal data is physically gone, whatever file might have kept it.
public func filesContaining(_ needle: String, under directory: String) -> [String] {
    let pattern = Data(needle.utf8)
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
    var found: [String] = []
    while let name = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let bytes = FileManager.default.contents(atPath: path) else { continue }
        if bytes.range(of: pattern) != nil { found.append(name) }
    }
    return found.sorted()
}

/// Waits until `condition` holds, checking every 10 ms, for at most `seconds`; returns whether it held.
@discardableResult
public func waitFor(seconds: Double = 15, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
