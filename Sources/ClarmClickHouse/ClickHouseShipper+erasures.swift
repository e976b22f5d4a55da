import ClarmQuery
import ClarmStorage

/// Erasures reach ClickHouse (docs/SCALE.md, "Erasure"): the gateway records each one (`erase`) before it
/// answers; a thread deletes the visitors' rows once the erasure is due (`ClickHouseErasures`), with
/// `ALTER TABLE … DELETE` on the table that holds the rows on every server, and only then drops the record.
extension ClickHouseShipper {
    /// Erasures one deletion takes at most: its statement stays far below ClickHouse's 256 KiB query size.
    static let erasuresPerDeletion = 200

    /// Records that ClickHouse must delete `visitor`'s rows on `site`; durable when it returns. Called after
    /// the store's tombstone is durable, so every feed read from now on leaves the visitor out.
    public func erase(site: String, visitor: String) throws(ClickHouseError) {
        guard let erasures else { return }
        try erasures.record(site: site, visitor: visitor, reads: reads.withLock { $0 })
        let pending = erasures.count
        state.withLock { $0.erasures.pending = pending }
    }

    /// Thread body: deletes due erasures' rows (once the backfill, which may hold them, is in), at most one
    /// deletion per `erasureIntervalMilliseconds`, retrying a failure after 100 ms doubling to 30 s.
    func forwardErasures(_ erasures: ClickHouseErasures) {
        var backoff = Backoff()
        while !stopped {
            let backfillDone = backfill?.status.done ?? true
            // A failed insert may still land late (a timeout is not a refusal): no deletion until it cannot.
            let settledAt = insertFailedAt.withLock { $0 }.map { $0 + Int64(endpoint.client.timeoutSeconds + 1) * 1000 } ?? 0
            let settled = Self.now() >= settledAt
            let due = backfillDone && settled ? erasures.due(reads: reads.withLock { $0 }, limit: Self.erasuresPerDeletion) : []
            if due.isEmpty {
                pause(options.pollMilliseconds)
                continue
            }
            do throws(ClickHouseError) {
                try deleteRows(of: due.map(\.tombstone))
                try erasures.accepted(due)
                backoff.reset()
                let pending = erasures.count
                state.withLock {
                    $0.erasures.accepted += due.count
                    $0.erasures.pending = pending
                }
                pause(options.erasureIntervalMilliseconds)
            } catch {
                state.withLock {
                    $0.erasures.failures += 1
                    $0.erasures.lastError = error.description
                    $0.erasures.lastErrorAt = Self.now()
                }
                pause(backoff.next())
            }
        }
    }

    /// Runs the deletion on every server's local table (a `Distributed` table takes no mutation, and
    /// `ON CLUSTER` needs ZooKeeper). Running it twice is harmless, so a server that failed is tried again
    /// with the rest.
    func deleteRows(of tombstones: [ErasureSet.Tombstone]) throws(ClickHouseError) {
        if let cluster = endpoint.cluster, let first = servers.first {
            let shards = Int(try first.execute(ClickHouseSchema.shardCountSQL(cluster: cluster)).split(whereSeparator: \.isNewline).first ?? "") ?? 0
            guard shards == servers.count else {
                throw ClickHouseError("cluster \(cluster) has \(shards) shards: give --clickhouse once for each shard's server (\(servers.count) given), so erasures reach every shard")
            }
        }
        let sql = Self.deletion(of: tombstones, table: endpoint.localTable)
        for server in servers { try server.execute(sql) }
    }

    /// `ALTER TABLE t DELETE WHERE (site = … AND visitor_id IN (…)) OR …`, one term per site.
    static func deletion(of tombstones: [ErasureSet.Tombstone], table: String) -> String {
        var visitorsBySite: [[UInt8]: [[UInt8]]] = [:]
        for tombstone in tombstones { visitorsBySite[tombstone.site, default: []].append(tombstone.visitor) }
        let terms = visitorsBySite.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { site, visitors in
            let list = visitors.map { ClickHouseQueryEngine.literal(String(decoding: $0, as: UTF8.self)) }.joined(separator: ", ")
            return "(site = \(ClickHouseQueryEngine.literal(String(decoding: site, as: UTF8.self))) AND visitor_id IN (\(list)))"
        }
        return "ALTER TABLE \(table) DELETE WHERE " + terms.joined(separator: " OR ")
    }
}
