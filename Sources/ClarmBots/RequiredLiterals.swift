import ClarmRegex
/// What every match of a pattern must contain: one of a few literal byte strings. A user agent holding none of
/// them cannot match, so the pattern's program runs only for user agents that hold one (the automaton finds them).
enum RequiredLiterals {
    /// The literals one of which every match contains; nil when the pattern promises none (then it always runs).
    static func of(_ node: PatternNode) -> [[UInt8]]? {
        switch node {
        case .bytes(let set):
            return set.single.map { [[$0]] }
        case .concatenation(let items):
            // Adjacent single bytes form one literal; any other item may offer literals of its own. Keep the best.
            var best: [[UInt8]]? = nil
            var run: [UInt8] = []
            func consider(_ candidate: [[UInt8]]?) {
                guard let candidate else { return }
                if best == nil || score(candidate) > score(best!) { best = candidate }
            }
            for item in items {
                if case .bytes(let set) = item, let byte = set.single {
                    run.append(byte)
                    continue
                }
                if !run.isEmpty { consider([run]) }
                run = []
                consider(of(item))
            }
            if !run.isEmpty { consider([run]) }
            return best
        case .alternation(let branches):
            var all: [[UInt8]] = []
            for branch in branches {
                guard let literals = of(branch) else { return nil }
                all += literals
            }
            return all
        case .oneOrMore(let inner):
            return of(inner)
        case .zeroOrMore, .optional, .start, .end:
            return nil
        }
    }

    /// Longer literals are rarer in user agents; fewer alternatives mean fewer automaton outputs.
    private static func score(_ literals: [[UInt8]]) -> (Int, Int) {
        (literals.map(\.count).min() ?? 0, -literals.count)
    }

    /// The whole pattern as one literal, when it is nothing but a sequence of single bytes.
    static func exact(_ node: PatternNode) -> [UInt8]? {
        switch node {
        case .bytes(let set): return set.single.map { [$0] }
        case .concatenation(let items):
            var literal: [UInt8] = []
            for item in items {
                guard case .bytes(let set) = item, let byte = set.single else { return nil }
                literal.append(byte)
            }
            return literal
        default: return nil
        }
    }
}
