import ClarmJSON
import ClarmRegex

/// Tells crawlers' user agents from people's, with the patterns of the `crawler-user-agents` project
/// (`Assets/crawler-user-agents.json`, MIT licence beside it; `Tools/update-crawlers.sh` refreshes it).
///
/// One Aho–Corasick pass over the user agent finds the literals the patterns require (`RequiredLiterals`); a
/// pattern that is one literal matches on the spot, any other runs its linear-time program (`PatternPrograms`)
/// once, only when its literal occurs. A user agent costs one table lookup per byte plus the programs of the
/// few candidate patterns, never hundreds of regular expressions.
public struct CrawlerMatcher: Sendable {
    public enum Match: Equatable, Sendable {
        /// The pattern, by its index in `patterns`, that matched.
        case pattern(Int)
        /// The user agent holds the literals of more than `maxProgramRuns` patterns whose programs then failed: a
        /// browser's never does, and the bound keeps a hostile user agent's cost to a few linear passes.
        case nearMisses
    }

    /// Pattern programs run at most per user agent; one more candidate makes it `nearMisses`.
    public static let maxProgramRuns = 4

    /// The patterns as written in the list, by index.
    public let patterns: [String]
    private let programs: PatternPrograms
    private let automaton: LiteralAutomaton
    /// Whether a pattern is exactly its literal, so finding the literal is a match.
    private let isLiteral: [Bool]
    /// Patterns that promise no literal: their programs run for every user agent.
    private let unfiltered: [Int]

    /// The vendored list, loaded once.
    public static let shared: CrawlerMatcher = {
        do {
            return try CrawlerMatcher(listJSON: Assets.crawlerUserAgentsJson)
        } catch {
            // The vendored list is tested to load in full; a refresh that breaks it fails those tests first.
            fatalError("the vendored crawler list does not load: \(error)")
        }
    }()

    /// Loads a list in the project's format: an array of objects with a `pattern` string.
    public init(listJSON: [UInt8]) throws(PatternError) {
        let list = listJSON.withUnsafeBytes { raw in Result { () throws(JSONError) in try JSONValue.parse(raw) } }
        guard case .success(let value) = list else {
            throw PatternError(pattern: "", offset: 0, problem: "the list is not JSON")
        }
        guard let entries = value.array else {
            throw PatternError(pattern: "", offset: 0, problem: "the list is not a JSON array")
        }
        var patterns: [String] = []
        for entry in entries {
            guard let pattern = entry["pattern"]?.string else {
                throw PatternError(pattern: "", offset: 0, problem: "an entry without a pattern string")
            }
            patterns.append(pattern)
        }
        try self.init(patterns: patterns)
    }

    public init(patterns: [String]) throws(PatternError) {
        var programs = PatternPrograms()
        var literals: [(bytes: [UInt8], value: Int32)] = []
        var isLiteral: [Bool] = []
        var unfiltered: [Int] = []
        for pattern in patterns {
            let node = try PatternParser.parse(pattern)
            let index = programs.add(node)
            isLiteral.append(RequiredLiterals.exact(node) != nil)
            if let required = RequiredLiterals.of(node), required.allSatisfy({ !$0.isEmpty }) {
                for literal in required { literals.append((literal, Int32(index))) }
            } else {
                unfiltered.append(index)
            }
        }
        self.patterns = patterns
        self.programs = programs
        self.automaton = LiteralAutomaton(literals)
        self.isLiteral = isLiteral
        self.unfiltered = unfiltered
    }

    /// Patterns whose programs run for every user agent, for lack of a literal to look for.
    public var unfilteredPatterns: [String] { unfiltered.map { patterns[$0] } }

    /// What marks `userAgent` as a crawler's, or nil when it looks like a person's browser.
    public func match(_ userAgent: UnsafeRawBufferPointer) -> Match? {
        var runs = 0
        for index in unfiltered {
            if runs == Self.maxProgramRuns { return .nearMisses }
            runs += 1
            if programs.matches(index, userAgent) { return .pattern(index) }
        }
        // Each candidate runs at most once per user agent, however often its literal occurs: a bitmap on the stack.
        let words = (patterns.count + 63) / 64
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(words, 1)) { tried in
            tried.initialize(repeating: 0)
            var found: Match? = nil
            _ = automaton.scan(userAgent) { value in
                let index = Int(value)
                let bit = UInt64(1) << UInt64(index & 63)
                if tried[index >> 6] & bit != 0 { return false }
                tried[index >> 6] |= bit
                if isLiteral[index] {
                    found = .pattern(index)
                    return true
                }
                if runs == Self.maxProgramRuns {
                    found = .nearMisses
                    return true
                }
                runs += 1
                if programs.matches(index, userAgent) {
                    found = .pattern(index)
                    return true
                }
                return false
            }
            return found
        }
    }

    public func matches(_ userAgent: String) -> Bool {
        var text = userAgent
        return text.withUTF8 { match(UnsafeRawBufferPointer($0)) != nil }
    }

    /// Whether pattern `index` alone matches, by its program, without the automaton (for tests and tools).
    public func patternMatches(_ index: Int, _ userAgent: String) -> Bool {
        var text = userAgent
        return text.withUTF8 { programs.matches(index, UnsafeRawBufferPointer($0)) }
    }
}

/// A crawler pattern the matcher cannot compile, found when the list is loaded.
public typealias CrawlerPatternError = PatternError
