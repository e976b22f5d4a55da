/// Caps on what one query may ask for, so that its parsing, its filters and its grouping stay small whatever
/// the body says (the body itself is capped by the HTTP limits). Beyond them a query is answered 400.
extension Query {
    public static let maxDimensions = 4
    public static let maxFilters = 20
    public static let maxValuesPerFilter = 100
    /// Bytes of all filter values together.
    public static let maxFilterBytes = 16 * 1024

    public func checkLimits() throws(QueryError) {
        if dimensions.count > Self.maxDimensions {
            throw QueryError(field: "dimensions", problem: "at most \(Self.maxDimensions) dimensions")
        }
        try Self.checkLimits(filters, field: "filters")
    }

    /// The caps on filters, for a list of them that `field` names (its items `field[i]`).
    public static func checkLimits(_ filters: [Filter], field: String) throws(QueryError) {
        if filters.count > Self.maxFilters {
            throw QueryError(field: field, problem: "at most \(Self.maxFilters) filters")
        }
        var bytes = 0
        for (i, filter) in filters.enumerated() {
            if filter.values.count > Self.maxValuesPerFilter {
                throw QueryError(field: "\(field)[\(i)]", problem: "at most \(Self.maxValuesPerFilter) values per filter")
            }
            bytes += filter.values.reduce(0) { $0 + $1.utf8.count }
        }
        if bytes > Self.maxFilterBytes {
            throw QueryError(field: field, problem: "filter values take \(bytes) bytes; at most \(Self.maxFilterBytes) in all")
        }
        let patternBytes = filters.reduce(0) { $0 + $1.patternBytes }
        if patternBytes > Filter.maxPatternBytesPerQuery {
            throw QueryError(field: field, problem: "patterns take \(patternBytes) bytes; at most \(Filter.maxPatternBytesPerQuery) in all")
        }
    }
}
