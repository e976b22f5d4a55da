import Synchronization

/// A fixed number of atomic integers in one allocation, made once: recording a value allocates nothing and
/// takes no lock.
public final class AtomicCells: Sendable {
    public let count: Int
    // Written only through atomic operations; the allocation lives as long as this object.
    nonisolated(unsafe) private let cells: UnsafeMutablePointer<Atomic<Int>>

    public init(count: Int) {
        self.count = count
        cells = .allocate(capacity: max(count, 1))
        for i in 0..<count { (cells + i).initialize(to: Atomic(0)) }
    }

    deinit {
        cells.deinitialize(count: count)
        cells.deallocate()
    }

    @inline(__always)
    public func add(_ index: Int, _ amount: Int = 1) {
        cells[index].add(amount, ordering: .relaxed)
    }

    @inline(__always)
    public func store(_ index: Int, _ value: Int) {
        cells[index].store(value, ordering: .relaxed)
    }

    @inline(__always)
    public func load(_ index: Int) -> Int {
        cells[index].load(ordering: .relaxed)
    }
}
