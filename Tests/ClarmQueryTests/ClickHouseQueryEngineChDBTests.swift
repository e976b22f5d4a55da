import ClarmClickHouse
import ClarmEvents
import ClarmTestSupport
import Foundation
import Testing
@testable import ClarmQuery

/// The same SQL as `ClickHouseQueryEngineTests`, run on a current ClickHouse (chDB from PyPI, in-process in a
/// helper, `Tests/Integration/chdb_statements.py`) over the same rows, so that nothing depends on 18.16's
/// quirks: the schema's statements, the RowBinary rows and every statement of the reference query set.
@Suite(.serialized, .enabled(if: ChDB.isInstalled, "chdb is not installed for python3 (Tools/setup.sh installs it)"))
struct ClickHouseQueryEngineChDBTests {
    @Test func theSameStatementsAgreeOnACurrentClickHouse() throws {
        let chdb = try ChDB()
        defer { chdb.close() }
        for statement in ClickHouseSchema.statements(database: "clarm_q", cluster: nil) { try chdb.run(statement) }
        let (events, rows) = ClickHouseQueryEngineTests.events()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = "\(directory.path)/rows.bin"
        try Data(rows).write(to: URL(fileURLWithPath: file))
        let structure = ClickHouseRow.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        let columns = ClickHouseRow.columns.map(\.name).joined(separator: ", ")
        for _ in 0..<2 {  // everything twice: FINAL must count each event once
            try chdb.run("INSERT INTO clarm_q.events (\(columns)) SELECT * FROM file('\(file)', 'RowBinary', '\(structure)')")
        }
        #expect(try chdb.run("SELECT count() FROM clarm_q.events") == "\(2 * events.count)\n")

        let storeDirectory = TemporaryDirectory()
        defer { storeDirectory.remove() }
        let store = try makeStore(events, directory: storeDirectory)
        defer { store.close() }
        let sql = ClickHouseQueryEngine(table: "clarm_q.events") { try chdb.run($0) }
        try ClickHouseQueryEngineTests.compareQuerySet(sql, QueryEngine(store: store))
        #expect(chdb.statements > 30)
    }

    @Test func literalsCarryEveryCharacterAsItIs() throws {
        let chdb = try ChDB()
        defer { chdb.close() }
        let text = "a'b\\c\u{0}d\u{1}e\u{1F}\u{7F}\né"
        #expect(!ClickHouseQueryEngine.literal(text).unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        let hex = text.utf8.map { String(format: "%02X", $0) }.joined()
        #expect(try chdb.run("SELECT hex(\(ClickHouseQueryEngine.literal(text)))") == hex + "\n")
    }
}

/// A `python3` running `chdb_statements.py`: statements in, TabSeparated answers out, one JSON line each.
final class ChDB: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Integration/chdb_statements.py").path

    static let isInstalled: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import chdb"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered: [UInt8] = []
    private(set) var statements = 0

    init() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Runs `sql` and returns its answer's text; a statement chDB refuses throws its error.
    @discardableResult
    func run(_ sql: String) throws -> String {
        statements += 1
        var line = try JSONSerialization.data(withJSONObject: ["sql": sql])
        line.append(UInt8(ascii: "\n"))
        try input.fileHandleForWriting.write(contentsOf: line)
        while !buffered.contains(UInt8(ascii: "\n")) {
            let more = output.fileHandleForReading.availableData
            guard !more.isEmpty else { throw ClickHouseTestError("chdb_statements.py ended") }
            buffered += more
        }
        let end = buffered.firstIndex(of: UInt8(ascii: "\n"))!
        let answer = try JSONSerialization.jsonObject(with: Data(buffered[..<end])) as? [String: String] ?? [:]
        buffered.removeSubrange(...end)
        if let error = answer["error"] { throw ClickHouseTestError("chDB refused \(sql.prefix(300)): \(error)") }
        return answer["text"] ?? ""
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
