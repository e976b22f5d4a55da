/// One regular expression, or several read as alternatives, matched anywhere in a text (unanchored unless it
/// says `^`/`$`) in time linear in the text's length times the pattern's size, whatever either holds: the
/// syntax `PatternParser` reads, run by the Pike VM of `PatternPrograms`. For patterns that come from requests.
public struct LinearRegex: Sendable {
    private let programs: PatternPrograms

    /// Compiles `patterns`; the text matches when any one of them does. `caseInsensitive`: ASCII letters match
    /// either case.
    public init(_ patterns: [String], caseInsensitive: Bool = false) throws(PatternError) {
        var nodes: [PatternNode] = []
        for pattern in patterns { nodes.append(try PatternParser.parse(pattern, caseInsensitive: caseInsensitive)) }
        var programs = PatternPrograms()
        _ = programs.add(nodes.count == 1 ? nodes[0] : .alternation(nodes))
        self.programs = programs
    }

    public func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { programs.matches(0, UnsafeRawBufferPointer($0)) }
    }
}
