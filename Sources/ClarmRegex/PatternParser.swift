/// A parsed pattern: the subset of ECMAScript regular expressions that `PatternParser` reads.
package indirect enum PatternNode: Equatable, Sendable {
    case bytes(ByteSet)
    case concatenation([PatternNode])
    case alternation([PatternNode])
    case zeroOrMore(PatternNode)
    case oneOrMore(PatternNode)
    case optional(PatternNode)
    /// `^`: the start of the text.
    case start
    /// `$`: the end of the text.
    case end
}

/// A pattern that does not parse, or uses a feature the matcher does not implement.
public struct PatternError: Error, Sendable, CustomStringConvertible {
    public let pattern: String
    public let offset: Int
    public let problem: String

    public init(pattern: String, offset: Int, problem: String) {
        self.pattern = pattern
        self.offset = offset
        self.problem = problem
    }

    public var description: String { "pattern '\(pattern)' at byte \(offset): \(problem)" }
}

/// Parses a pattern: literals, `.`, escapes (`\d \D \w \W \s \S` and escaped punctuation), classes with ranges and
/// negation, groups (`(…)`, `(?:…)`), `|`, `* + ?` (lazy forms too: they match the same strings), `^`, `$`.
/// Anything else (backreferences, lookaround, word boundaries, counted repetition) is refused, so a pattern that
/// uses it fails loudly instead of matching wrongly. Matching is on bytes and case-sensitive.
package struct PatternParser {
    private let text: [UInt8]
    private let pattern: String
    /// Whether a letter stands for both its cases (ASCII letters only).
    private let caseInsensitive: Bool
    private var position = 0

    package static func parse(_ pattern: String, caseInsensitive: Bool = false) throws(PatternError) -> PatternNode {
        var parser = PatternParser(pattern, caseInsensitive: caseInsensitive)
        let node = try parser.alternation()
        if parser.position < parser.text.count { throw parser.error("unbalanced ')'") }
        return node
    }

    private init(_ pattern: String, caseInsensitive: Bool) {
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
        self.text = Array(pattern.utf8)
    }

    private func error(_ problem: String) -> PatternError {
        PatternError(pattern: pattern, offset: position, problem: problem)
    }

    private var next: UInt8? { position < text.count ? text[position] : nil }

    private mutating func alternation() throws(PatternError) -> PatternNode {
        var branches = [try concatenation()]
        while next == UInt8(ascii: "|") {
            position += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func concatenation() throws(PatternError) -> PatternNode {
        var items: [PatternNode] = []
        while let byte = next, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
            var item = try atom()
            while let quantifier = next, [UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?")].contains(quantifier) {
                if case .start = item { throw error("a quantifier after ^") }
                if case .end = item { throw error("a quantifier after $") }
                position += 1
                switch quantifier {
                case UInt8(ascii: "*"): item = .zeroOrMore(item)
                case UInt8(ascii: "+"): item = .oneOrMore(item)
                default: item = .optional(item)
                }
                // A lazy quantifier finds a match exactly when the greedy one does; only whether one exists is asked.
                if next == UInt8(ascii: "?") { position += 1 }
            }
            if next == UInt8(ascii: "{") { throw error("counted repetition {n,m} is not supported") }
            items.append(item)
        }
        return items.count == 1 ? items[0] : .concatenation(items)
    }

    private mutating func atom() throws(PatternError) -> PatternNode {
        let byte = text[position]
        position += 1
        switch byte {
        case UInt8(ascii: "("):
            if next == UInt8(ascii: "?") {
                guard position + 1 < text.count, text[position + 1] == UInt8(ascii: ":") else {
                    throw error("lookaround and named groups are not supported")
                }
                position += 2
            }
            let inner = try alternation()
            guard next == UInt8(ascii: ")") else { throw error("missing ')'") }
            position += 1
            return inner
        case UInt8(ascii: "["): return .bytes(try characterClass())
        case UInt8(ascii: "."): return .bytes(ByteSet(UInt8(ascii: "\n")).inverted)
        case UInt8(ascii: "^"): return .start
        case UInt8(ascii: "$"): return .end
        case UInt8(ascii: "\\"): return .bytes(try escape(inClass: false))
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
            throw error("a quantifier with nothing to repeat")
        default: return .bytes(folded(ByteSet(byte)))
        }
    }

    /// After `[`: the class up to its `]`.
    private mutating func characterClass() throws(PatternError) -> ByteSet {
        var set = ByteSet()
        let negated = next == UInt8(ascii: "^")
        if negated { position += 1 }
        if next == UInt8(ascii: "]") { throw error("an empty class []") }
        while true {
            guard let byte = next else { throw error("missing ']'") }
            position += 1
            if byte == UInt8(ascii: "]") { break }
            var low: ByteSet
            var lowByte: UInt8? = byte
            if byte == UInt8(ascii: "\\") {
                low = try escape(inClass: true)
                lowByte = low.single
            } else {
                low = ByteSet(byte)
            }
            if next == UInt8(ascii: "-"), position + 1 < text.count, text[position + 1] != UInt8(ascii: "]") {
                position += 1
                var high = text[position]
                position += 1
                if high == UInt8(ascii: "\\") {
                    guard let escaped = try escape(inClass: true).single else { throw error("a class escape ends a range") }
                    high = escaped
                }
                guard let from = lowByte, from <= high else { throw error("a reversed or open range") }
                low = ByteSet(from...high)
            }
            set.formUnion(low)
        }
        // Folded before negation, so that `[^a]` matches neither `a` nor `A`.
        set = folded(set)
        return negated ? set.inverted : set
    }

    /// `set` with each ASCII letter's other case, when the pattern ignores case.
    private func folded(_ set: ByteSet) -> ByteSet {
        guard caseInsensitive else { return set }
        var result = set
        for upper in UInt8(ascii: "A")...UInt8(ascii: "Z") where set.contains(upper) || set.contains(upper | 0x20) {
            result.insert(upper)
            result.insert(upper | 0x20)
        }
        return result
    }

    /// After `\`: the bytes the escape stands for.
    private mutating func escape(inClass: Bool) throws(PatternError) -> ByteSet {
        guard let byte = next else { throw error("a pattern ends with \\") }
        position += 1
        switch byte {
        case UInt8(ascii: "d"): return .digits
        case UInt8(ascii: "D"): return ByteSet.digits.inverted
        case UInt8(ascii: "w"): return .word
        case UInt8(ascii: "W"): return ByteSet.word.inverted
        case UInt8(ascii: "s"): return .space
        case UInt8(ascii: "S"): return ByteSet.space.inverted
        case UInt8(ascii: "t"): return ByteSet(0x09)
        case UInt8(ascii: "n"): return ByteSet(0x0A)
        case UInt8(ascii: "r"): return ByteSet(0x0D)
        case UInt8(ascii: "b") where inClass: return ByteSet(0x08)
        default:
            // Escaped punctuation stands for itself; escaped letters and digits mean something this matcher lacks.
            let isAlphanumeric = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            guard byte < 0x80, !isAlphanumeric else { throw error("the escape \\\(Character(Unicode.Scalar(byte))) is not supported") }
            return ByteSet(byte)
        }
    }
}
