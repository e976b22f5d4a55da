/// The statements `clarm clickhouse init` runs on each server (docs/SCALE.md, "Schema"). Every one is
/// `IF NOT EXISTS`, so init may run again, and from any gateway.
///
/// Without a cluster: one `ReplacingMergeTree` table `DB.events`. With `--cluster C`: `DB.events_local` on
/// every server of C, and on each of them `DB.events`, a `Distributed` table over them sharded by
/// `visitor_hash`, so a visitor's events stay on one shard. The statements run on each server in turn rather
/// than `ON CLUSTER`, which needs ZooKeeper. Rows are sorted by (site, day, visitor_hash,
/// timestamp_ms, event_key): a re-sent event has the same sort key, and merges keep one of its copies.
public enum ClickHouseSchema {
    /// The number of shards of `cluster` the server knows (`system.clusters`), to check init reaches them all.
    public static func shardCountSQL(cluster: String) -> String {
        "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = '\(cluster)'"
    }

    public static func statements(database: String, cluster: String?) -> [String] {
        let columns = ClickHouseRow.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        let local = cluster == nil ? "events" : "events_local"
        var statements = [
            "CREATE DATABASE IF NOT EXISTS \(database)",
            """
            CREATE TABLE IF NOT EXISTS \(database).\(local) (\(columns)) \
            ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(day) \
            ORDER BY (site, day, visitor_hash, timestamp_ms, event_key)
            """,
        ]
        if let cluster {
            statements.append("""
                CREATE TABLE IF NOT EXISTS \(database).events AS \(database).events_local \
                ENGINE = Distributed(\(cluster), \(database), events_local, visitor_hash)
                """)
        }
        return statements
    }
}
