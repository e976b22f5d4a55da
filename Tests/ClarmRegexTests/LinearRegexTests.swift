import ClarmRegex
import Foundation
import Testing

@Suite struct LinearRegexTests {
    @Test func matchesAnywhereUnlessAnchored() throws {
        let blog = try LinearRegex(["^/blog/[a-z-]+$"])
        #expect(blog.matches("/blog/hello-world"))
        #expect(!blog.matches("/blog/hello/world"))
        #expect(!blog.matches("/en/blog/hello"))
        let anywhere = try LinearRegex(["pric(e|ing)"])
        #expect(anywhere.matches("/pricing?x=1"))
        #expect(!anywhere.matches("/prize"))
    }

    @Test func severalPatternsAreAlternatives() throws {
        let either = try LinearRegex(["^/a$", "^/b$"])
        #expect(either.matches("/a") && either.matches("/b") && !either.matches("/c"))
    }

    /// `(a*)*b` over `aaa…a` is exponential for a backtracking engine; here it is one pass.
    @Test func nestedQuantifiersStayLinear() throws {
        let text = String(repeating: "a", count: 50_000)
        let started = Date()
        for pattern in ["(a*)*b", "(a|aa)+$b", "(a+)+b", "^(a|a?)+b$"] {
            #expect(try !LinearRegex([pattern]).matches(text))
        }
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func ignoringCaseFoldsASCIILettersBeforeNegation() throws {
        let folded = try LinearRegex(["^/Blog/[a-c]+[^x]$"], caseInsensitive: true)
        #expect(folded.matches("/blog/ABcz") && folded.matches("/BLOG/aay"))
        #expect(!folded.matches("/blog/abX"), "[^x] refuses X too")
        #expect(!(try LinearRegex(["^/Blog"])).matches("/blog"))
    }

    @Test func refusesWhatItDoesNotImplement() {
        for pattern in ["a{2}", "(?=a)", "\\1", "(a", "a)", "[z-a]", "*", "\\"] {
            #expect(throws: PatternError.self, "\(pattern)") { try LinearRegex([pattern]) }
        }
    }
}
