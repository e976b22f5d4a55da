import ArgumentParser
import ClarmClickHouse
import Foundation

/// `clarm clickhouse init`: creates Clarm's tables in ClickHouse (docs/SCALE.md).
struct ClickHouse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clickhouse",
        abstract: "Set up ClickHouse as the scale-out store (docs/SCALE.md).",
        subcommands: [Initialize.self]
    )

    /// Where ClickHouse is and how to log in; shared by `clickhouse init` and `serve --clickhouse`.
    struct Connection: ParsableArguments {
        @Option(name: .customLong("clickhouse-database"), help: "The ClickHouse database of Clarm's tables.")
        var database = "clarm"

        @Option(name: .customLong("clickhouse-cluster"), help: "A cluster of the servers' remote_servers: shard the events over it (a Distributed table).")
        var cluster: String?

        @Option(name: .customLong("clickhouse-user"), help: "The ClickHouse user (default: ClickHouse's default user).")
        var user: String?

        @Option(name: .customLong("clickhouse-password-file"), help: "A file whose first line is the ClickHouse user's password; keeps it out of the process list.")
        var passwordFile: String?

        /// `timeoutSeconds` bounds connecting and each send and receive (a query's answer comes when it is done).
        func endpoint(_ url: String, timeoutSeconds: Int = 10) throws -> ClickHouseEndpoint {
            var password: String? = nil
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                    throw ValidationError("cannot read --clickhouse-password-file \(passwordFile)")
                }
                password = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            do {
                return try ClickHouseEndpoint(url: url, database: database, cluster: cluster, user: user, password: password,
                                              timeoutSeconds: timeoutSeconds)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create the database and tables (again is harmless). With --clickhouse-cluster, give --clickhouse once per shard's server."
        )

        @Option(name: .customLong("clickhouse"), help: "A ClickHouse server's HTTP interface, http://HOST:PORT (repeatable: one per shard).")
        var urls: [String] = []

        @OptionGroup var connection: Connection

        func run() throws {
            guard !urls.isEmpty else { throw ValidationError("--clickhouse is required") }
            do {
                for line in try ClickHouseSchema.initialize(servers: try urls.map { try connection.endpoint($0) }) { print(line) }
            } catch let error as ClickHouseError {
                FileHandle.standardError.write(Data("clarm: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
