import ClarmJSON

/// `"attribution_scope"`: whose first touch `first_touch` credits, the visitor's or their person's
/// (docs/QUERIES.md, "Attribution in `POST /api/query`").
extension Query {
    public enum AttributionScope: String, Sendable {
        case visitor
        /// The first touch of the person the visitor belongs to, over all their devices (`People.swift`).
        case person
    }

    static func attributionScope(_ value: JSONValue?, attribution: Attribution?) throws(QueryError) -> AttributionScope {
        guard let value, value != .null else { return .visitor }
        guard let name = value.string, let scope = AttributionScope(rawValue: name) else {
            throw QueryError(field: "attribution_scope", problem: #"must be "visitor" or "person""#)
        }
        if scope == .person && attribution != .firstTouch {
            throw QueryError(field: "attribution_scope", problem: #""person" applies to "attribution": "first_touch""#)
        }
        return scope
    }

    /// Whether conversions are credited to their person's first visit.
    var creditsPersons: Bool {
        attributionScope == .person && attribution == .firstTouch && (dimensions + filters.map(\.dimension)).contains { $0.isVisit }
    }
}
