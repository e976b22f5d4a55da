import ClarmHTTPClient
import Foundation
import Glibc

public struct ClickHouseTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Real `clickhouse-server` processes on loopback for the tests: each in its own temporary directory with
/// free ports, all sharing a `remote_servers` cluster `clarm_test` with one shard per server.
public final class ClickHouseServers: @unchecked Sendable {
    /// Debian installs it in /usr/sbin.
    public static let binary = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/clickhouse-server"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }
    public static let skipMessage = "clickhouse-server is not installed (Tools/setup.sh installs it)"

    public struct Server {
        public let httpPort: Int
        public let tcpPort: Int
        public let directory: String
        public var url: String { "http://127.0.0.1:\(httpPort)" }
    }

    public let servers: [Server]
    /// Started with posix_spawn, not Foundation's Process: its monitor thread waits on one child at a time, and
    /// a server that runs for the whole test would keep it from ever seeing another child (a `clarm`) exit.
    private var processes: [pid_t?]
    public static let cluster = "clarm_test"

    /// Starts `count` servers and waits until each answers `/ping`.
    public init(count: Int = 1) throws {
        var servers: [Server] = []
        for _ in 0..<count {
            servers.append(Server(httpPort: Self.freePort(), tcpPort: Self.freePort(), directory: TemporaryDirectory().path))
        }
        self.servers = servers
        processes = Array(repeating: nil, count: count)
        let shards = servers.map { "<shard><replica><host>127.0.0.1</host><port>\($0.tcpPort)</port></replica></shard>" }.joined()
        for (index, server) in servers.enumerated() {
            let d = server.directory
            try """
            <?xml version="1.0"?>
            <yandex>
              <logger><level>error</level><log>\(d)/server.log</log><errorlog>\(d)/error.log</errorlog></logger>
              <listen_host>127.0.0.1</listen_host>
              <http_port>\(server.httpPort)</http_port>
              <tcp_port>\(server.tcpPort)</tcp_port>
              <path>\(d)/data/</path>
              <tmp_path>\(d)/data/tmp/</tmp_path>
              <user_files_path>\(d)/data/user_files/</user_files_path>
              <format_schema_path>\(d)/data/format_schemas/</format_schema_path>
              <mark_cache_size>67108864</mark_cache_size>
              <uncompressed_cache_size>67108864</uncompressed_cache_size>
              <users_config>users.xml</users_config>
              <default_profile>default</default_profile>
              <default_database>default</default_database>
              <timezone>UTC</timezone>
              <remote_servers><\(Self.cluster)>\(shards)</\(Self.cluster)></remote_servers>
            </yandex>
            """.write(toFile: "\(d)/config.xml", atomically: true, encoding: .utf8)
            try """
            <?xml version="1.0"?>
            <yandex>
              <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
              <users>
                <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
                <clarm><password>s3cret-pass</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></clarm>
              </users>
              <quotas><default></default></quotas>
            </yandex>
            """.write(toFile: "\(d)/users.xml", atomically: true, encoding: .utf8)
            try start(index)
        }
    }

    /// Starts server `index` (again, after `stop`) and waits for `/ping`.
    public func start(_ index: Int) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [Self.binary, "--config-file=\(servers[index].directory)/config.xml"]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, Self.binary, &actions, nil, &argv, environ)
        guard status == 0 else { throw ClickHouseTestError("cannot start \(Self.binary): error \(status)") }
        processes[index] = pid
        for _ in 0..<200 {
            if let answer = try? BlockingHTTPClient(url: servers[index].url).send("GET", "/ping"), answer.status == 200 { return }
            usleep(50_000)
        }
        throw ClickHouseTestError("clickhouse-server on port \(servers[index].httpPort) did not answer /ping within 10 s")
    }

    /// Kills server `index` (SIGKILL) and waits for it to end.
    public func stop(_ index: Int) {
        guard let pid = processes[index] else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        processes[index] = nil
    }

    /// Stops every server and removes their directories.
    public func shutdown() {
        for index in servers.indices { stop(index) }
        for server in servers { _ = system("rm -rf '\(server.directory)'") }
    }

    /// Runs `sql` on server `index` through its HTTP interface and returns the answer's text.
    public func query(_ sql: String, server index: Int = 0) throws -> String {
        let answer = try BlockingHTTPClient(url: servers[index].url).send("POST", "/", body: Array(sql.utf8), contentType: "text/plain")
        let text = String(decoding: answer.body, as: UTF8.self)
        guard answer.status == 200 else { throw ClickHouseTestError("ClickHouse answered \(answer.status): \(text)") }
        return text
    }

    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
