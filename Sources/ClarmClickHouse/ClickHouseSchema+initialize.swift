extension ClickHouseSchema {
    /// Creates the tables on every server in `servers` (one per shard of the cluster, or the single server),
    /// after checking that, with a cluster, each server knows it and that the servers cover all its shards.
    /// Returns what it did, a line per server.
    public static func initialize(servers: [ClickHouseEndpoint]) throws(ClickHouseError) -> [String] {
        guard let first = servers.first else { throw ClickHouseError("--clickhouse: at least one server is needed") }
        var done: [String] = []
        for server in servers {
            if let cluster = server.cluster {
                let shards = Int(try server.execute(shardCountSQL(cluster: cluster)).split(whereSeparator: \.isNewline).first ?? "") ?? 0
                guard shards > 0 else {
                    throw ClickHouseError("ClickHouse at \(server.url) has no cluster \(cluster) in its remote_servers")
                }
                guard shards == servers.count else {
                    throw ClickHouseError("cluster \(cluster) has \(shards) shards: give --clickhouse once for each shard's server (\(servers.count) given)")
                }
            } else if servers.count > 1 {
                throw ClickHouseError("several --clickhouse servers need --cluster")
            }
            for statement in statements(database: first.database, cluster: server.cluster) {
                try server.execute(statement)
            }
            done.append("\(server.url): database \(server.database), table \(server.cluster == nil ? "events" : "events_local and the Distributed table events")")
        }
        return done
    }
}
