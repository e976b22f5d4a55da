import ClarmHTTPClient

/// A failed statement or insert: the server's own error text (cut to 500 bytes) or why no answer came.
public struct ClickHouseError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where Clarm's events live in ClickHouse: the server's HTTP interface, the database, and the cluster (from
/// the server's `remote_servers`) when the tables are sharded over several servers.
public struct ClickHouseEndpoint: Sendable {
    public let url: String
    public let database: String
    public let cluster: String?
    let user: String?
    let password: String?
    let client: BlockingHTTPClient

    /// Answers to statements are small; query answers are bounded by the query's own limit.
    public static let maxAnswer = 64 << 20

    public init(url: String, database: String = "clarm", cluster: String? = nil, user: String? = nil,
                password: String? = nil, timeoutSeconds: Int = 10) throws(ClickHouseError) {
        guard Self.isIdentifier(database) else {
            throw ClickHouseError("--database must be letters, digits and _ (not starting with a digit), at most 64 bytes")
        }
        if let cluster, !Self.isIdentifier(cluster) {
            throw ClickHouseError("--cluster must be letters, digits and _ (not starting with a digit), at most 64 bytes")
        }
        do {
            var client = try BlockingHTTPClient(url: url, option: "--clickhouse")
            client.timeoutSeconds = timeoutSeconds
            client.maxResponse = Self.maxAnswer
            self.client = client
        } catch {
            throw ClickHouseError(error.description)
        }
        self.url = url
        self.database = database
        self.cluster = cluster
        self.user = user
        self.password = password
    }

    /// Names safe to put in SQL unquoted.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }

    /// The table rows are inserted into and queries read: the `Distributed` table with a cluster, else the local one.
    public var eventsTable: String { "\(database).events" }

    /// The table that holds the rows on each server (a mutation such as a deletion runs there): the
    /// `MergeTree` one, `events_local` with a cluster.
    public var localTable: String { "\(database).\(cluster == nil ? "events" : "events_local")" }

    /// Runs one statement (its text in the body) and returns the answer's text.
    @discardableResult
    public func execute(_ sql: String) throws(ClickHouseError) -> String {
        String(decoding: try post(query: nil, body: Array(sql.utf8)), as: UTF8.self)
    }

    /// Runs a query the server may not let change anything (`readonly=2`: settings only), stops after
    /// `seconds`, so that the query API's deadline holds on the server too, and refuses to take more than
    /// `memoryBytes` on any server (`max_memory_usage`).
    public func select(_ sql: String, seconds: Int, memoryBytes: Int) throws(ClickHouseError) -> String {
        String(decoding: try post(query: nil, body: Array(sql.utf8),
                                  settings: [("readonly", "2"), ("max_execution_time", String(seconds)),
                                             ("max_memory_usage", String(memoryBytes))]), as: UTF8.self)
    }

    /// Inserts `rows` (RowBinary, in `ClickHouseRow.columns` order) into the events table; returns once the
    /// server acknowledged them. With a cluster the insert is synchronous: acknowledged means on every shard.
    public func insert(_ rows: [UInt8]) throws(ClickHouseError) {
        let sql = "INSERT INTO \(eventsTable) (\(ClickHouseRow.columns.map(\.name).joined(separator: ", "))) FORMAT RowBinary"
        try post(query: sql, body: rows, settings: cluster == nil ? [] : [("insert_distributed_sync", "1")])
    }

    @discardableResult
    private func post(query: String?, body: [UInt8], settings: [(String, String)] = []) throws(ClickHouseError) -> [UInt8] {
        var parameters = settings
        if let query { parameters.insert(("query", query), at: 0) }
        let path = "/" + (parameters.isEmpty ? "" : "?" + parameters.map { "\($0.0)=\(Self.percentEncoded($0.1))" }.joined(separator: "&"))
        var headers: [(String, String)] = []
        if let user {
            headers.append(("X-ClickHouse-User", user))
            headers.append(("X-ClickHouse-Key", password ?? ""))
        }
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try client.send("POST", path, headers: headers, body: body, contentType: "application/octet-stream")
        } catch {
            throw ClickHouseError("ClickHouse at \(url): \(error)")
        }
        guard answer.status == 200 else {
            let text = String(decoding: answer.body.prefix(500), as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
            throw ClickHouseError("ClickHouse at \(url) answered \(answer.status): \(text)")
        }
        return answer.body
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
