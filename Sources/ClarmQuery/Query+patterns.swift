import ClarmRegex

/// Regular expressions of `matches` and `matches_not` filters: compiled once per query into a linear-time
/// program (`LinearRegex`), so no pattern and no text can make a filter backtrack. Each filter value is one
/// pattern; their sizes are capped so that a program stays small (its size times a value's length bounds the
/// work per distinct value).
extension Query.Filter {
    public static let maxPatternBytes = 256
    /// Bytes of all the patterns of one query together.
    public static let maxPatternBytesPerQuery = 1024

    static func compile(_ patterns: [String], caseInsensitive: Bool, field: String) throws(QueryError) -> LinearRegex {
        if let long = patterns.first(where: { $0.utf8.count > maxPatternBytes }) {
            throw QueryError(field: field, problem: "a pattern of \(long.utf8.count) bytes; at most \(maxPatternBytes)")
        }
        do throws(PatternError) {
            return try LinearRegex(patterns, caseInsensitive: caseInsensitive)
        } catch {
            throw QueryError(field: field, problem: "\(error.description) (supported: literals, ., classes, groups, |, * + ?, ^, $)")
        }
    }

    var patternBytes: Int {
        op == .matches || op == .matches_not ? values.reduce(0) { $0 + $1.utf8.count } : 0
    }
}
