import Foundation

/// The real `clarm` binary, run as a child process for the tests that need a whole gateway process.
enum ServeProcess {
    static var binary: URL { product("clarm") }

    /// An executable of this package in its debug build (Tests/ClarmGatewayTests/ServeProcess.swift → the root).
    static func product(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/\(name)")
    }

    /// Starts `clarm serve --port 0 …` and returns it with the port it printed on its first stdout line; `wrapper`
    /// runs it under another command (`prlimit …`), `log` receives its standard error.
    /// Unless the arguments set `--max-event-age`, it takes events of any age (`historyMaxEventAgeDays`).
    static func launch(_ arguments: [String], wrapper: [String] = [], log: URL? = nil) throws -> (process: Process, port: Int) {
        let process = Process()
        process.executableURL = wrapper.isEmpty ? binary : URL(fileURLWithPath: wrapper[0])
        let age = arguments.contains("--max-event-age") ? [] : ["--max-event-age", String(historyMaxEventAgeDays)]
        process.arguments = wrapper.dropFirst() + (wrapper.isEmpty ? [] : [binary.path]) + ["serve", "--port", "0"] + age + arguments
        let output = Pipe()
        process.standardOutput = output
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let port = text.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            process.terminate()
            throw TestFailure("unexpected first line from clarm serve: \(text)")
        }
        return (process, port)
    }
}
