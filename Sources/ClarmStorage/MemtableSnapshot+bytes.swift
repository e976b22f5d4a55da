extension MemtableSnapshot {
    /// Bytes of records the snapshot holds.
    public var bytes: Int { chunks.reduce(0) { $0 + $1.1 } }
}
