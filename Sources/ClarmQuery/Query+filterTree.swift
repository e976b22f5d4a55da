/// Filters combined with `and`, `or` and `not` (Plausible's Stats API v2 nests them); the leaves are indexes
/// into `Query.filters`, so everything that reads the filters' dimensions (columns, visit attributes) and the
/// per-value decisions stay as they are.
extension Query {
    public indirect enum FilterTree: Sendable {
        case filter(Int)
        case and([FilterTree])
        case or([FilterTree])
        case not(FilterTree)
    }

    /// Whether an event is kept, given whether each filter holds for it (asked at most once per filter, and
    /// only for the filters the answer depends on).
    func keeps(_ holds: (Int) -> Bool) -> Bool {
        guard let filterTree else {
            for index in filters.indices where !holds(index) { return false }
            return true
        }
        return Self.evaluate(filterTree, holds)
    }

    private static func evaluate(_ tree: FilterTree, _ holds: (Int) -> Bool) -> Bool {
        switch tree {
        case .filter(let index): holds(index)
        case .and(let trees): trees.allSatisfy { evaluate($0, holds) }
        case .or(let trees): trees.contains { evaluate($0, holds) }
        case .not(let tree): !evaluate(tree, holds)
        }
    }
}
