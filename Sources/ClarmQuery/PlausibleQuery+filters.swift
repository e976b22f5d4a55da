import ClarmJSON

/// Plausible's `filters`: `[operator, dimension, [clauses…]]` with an optional fourth member of modifiers,
/// nested with `["and", [filters…]]`, `["or", [filters…]]` and `["not", filter]`. The leaves become
/// `Query.filters`; the nesting becomes `Query.filterTree` (nil when the filters are a plain list, all of
/// which must hold, so the engine's shortcuts for that case stay on).
extension PlausibleQuery {
    mutating func parseFilters(_ value: JSONValue?) throws(QueryError) {
        guard let value, value != .null else { return }
        guard let values = value.array else { throw QueryError(field: "#/filters", problem: "Expected an array") }
        var nodes = 0
        var trees: [Query.FilterTree] = []
        for (i, item) in values.enumerated() {
            trees.append(try filter(item, field: "#/filters/\(i)", depth: 1, nodes: &nodes))
        }
        let plain = trees.enumerated().allSatisfy { i, tree in
            if case .filter(let index) = tree { index == i } else { false }
        }
        query.filterTree = plain ? nil : .and(trees)
        filtersJSON = value
    }

    private mutating func filter(_ value: JSONValue, field: String, depth: Int, nodes: inout Int) throws(QueryError) -> Query.FilterTree {
        nodes += 1
        if nodes > Self.maxFilterNodes {
            throw QueryError(field: field, problem: "Too many filters: at most \(Self.maxFilterNodes) filters and and/or/not in all")
        }
        if depth > Self.maxFilterDepth {
            throw QueryError(field: field, problem: "Filters nest too deep: at most \(Self.maxFilterDepth) levels")
        }
        guard let parts = value.array, parts.count >= 2, let op = parts[0].string else {
            throw QueryError(field: field, problem: "Invalid filter: expected [operator, dimension, clauses] or [\"and\" | \"or\", [filters]] or [\"not\", filter]")
        }
        switch op {
        case "and", "or":
            guard parts.count == 2, let list = parts[1].array, !list.isEmpty else {
                throw QueryError(field: field, problem: "Invalid filter: \"\(op)\" takes a non-empty array of filters")
            }
            var trees: [Query.FilterTree] = []
            for (i, item) in list.enumerated() {
                trees.append(try filter(item, field: "\(field)/1/\(i)", depth: depth + 1, nodes: &nodes))
            }
            return op == "and" ? .and(trees) : .or(trees)
        case "not":
            guard parts.count == 2 else { throw QueryError(field: field, problem: "Invalid filter: \"not\" takes one filter") }
            return .not(try filter(parts[1], field: "\(field)/1", depth: depth + 1, nodes: &nodes))
        case "has_done", "has_not_done", "matches_wildcard", "matches_wildcard_not":
            throw QueryError(field: field, problem: "Unsupported filter operator \"\(op)\"")
        default:
            guard let filterOperator = Query.FilterOperator(rawValue: op) else {
                throw QueryError(field: field, problem: "Invalid filter operator \"\(op)\"")
            }
            guard parts.count == 3 || parts.count == 4 else {
                throw QueryError(field: field, problem: "Invalid filter: expected [operator, dimension, clauses] with optional modifiers")
            }
            guard let name = parts[1].string else { throw QueryError(field: "\(field)/1", problem: "Invalid filter dimension") }
            if name.hasPrefix("segment") || name == "time" || name.hasPrefix("time:") {
                throw QueryError(field: "\(field)/1", problem: "Unsupported filter dimension \"\(name)\"")
            }
            let dimension = try Self.dimension(name, field: "\(field)/1")
            guard let list = parts[2].array, !list.isEmpty else {
                throw QueryError(field: "\(field)/2", problem: "Invalid filter clauses: expected a non-empty array of strings")
            }
            var clauses: [String] = []
            for item in list {
                guard let clause = item.string else {
                    throw QueryError(field: "\(field)/2", problem: "Invalid filter clauses: expected a non-empty array of strings")
                }
                clauses.append(clause)
            }
            let caseSensitive = parts.count == 4 ? try Self.caseSensitivity(parts[3], field: "\(field)/3") : true
            query.filters.append(try Query.Filter(op: filterOperator, dimension: dimension, values: clauses,
                                                  caseSensitive: caseSensitive, field: field))
            return .filter(query.filters.count - 1)
        }
    }

    /// The modifiers `{"case_sensitive": false}` (letters match either case) or `true` (the default).
    private static func caseSensitivity(_ value: JSONValue, field: String) throws(QueryError) -> Bool {
        guard case .object(let members) = value else { throw QueryError(field: field, problem: "Invalid filter modifiers: expected an object") }
        var caseSensitive = true
        for (key, value) in members {
            guard key == "case_sensitive" else {
                throw QueryError(field: "\(field)/\(key)", problem: "Unsupported filter modifier")
            }
            guard case .bool(let flag) = value else {
                throw QueryError(field: "\(field)/\(key)", problem: "Expected a boolean")
            }
            caseSensitive = flag
        }
        return caseSensitive
    }
}
