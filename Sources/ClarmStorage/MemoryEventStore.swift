import Synchronization

/// Holds events in process memory only: everything is lost when the process ends.
public final class MemoryEventStore: EventStore {
    private struct State {
        var records: [UInt8] = []
        var count = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func append(_ records: UnsafeRawBufferPointer, count: Int) throws(StoreError) {
        state.withLock { state in
            state.records.append(contentsOf: records)
            state.count += count
        }
    }

    public func flush() throws(StoreError) {}

    public var count: Int { state.withLock { $0.count } }

    /// A copy of every record held, back to back.
    public func snapshot() -> [UInt8] { state.withLock { $0.records } }
}
