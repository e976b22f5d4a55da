/// Open connections per peer address, shared by every loop, for the per-address connection cap.
///
/// An address is forgotten when its last connection closes: the tables never hold more entries than
/// there are open connections.
final class ConnectionsPerAddress: Sendable {
    private let counts = ShardedMutex<IPAddress, [IPAddress: Int]>(count: 16) { _ in [:] }
    private let limit: Int

    /// `limit` connections per address; 0 means no cap.
    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `address`; false (and nothing counted) when it already has `limit`.
    func open(_ address: IPAddress) -> Bool {
        guard limit > 0 else { return true }
        let address = address.client
        return counts.withLock(address) { counts in
            let count = counts[address, default: 0]
            guard count < limit else { return false }
            counts[address] = count + 1
            return true
        }
    }

    /// Uncounts a connection that `open` counted.
    func close(_ address: IPAddress) {
        guard limit > 0 else { return }
        let address = address.client
        counts.withLock(address) { counts in
            guard let count = counts[address] else { return }
            counts[address] = count > 1 ? count - 1 : nil
        }
    }
}
