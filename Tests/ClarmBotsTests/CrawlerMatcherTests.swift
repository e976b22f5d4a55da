import Foundation
import Testing
import ClarmBots

/// The vendored list as the tests read it: patterns with their example user agents.
enum VendoredList {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/ClarmBots/Assets/crawler-user-agents.json")

    static let entries: [(pattern: String, instances: [String])] = {
        let list = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        return list.map { ($0["pattern"] as! String, $0["instances"] as? [String] ?? []) }
    }()
}

/// User agents of people's browsers, current and common.
let browserUserAgents = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
]

@Suite struct CrawlerMatcherTests {
    @Test func everyVendoredPatternLoadsAndHasALiteral() {
        let matcher = CrawlerMatcher.shared
        #expect(matcher.patterns.count == VendoredList.entries.count)
        #expect(matcher.patterns.count > 1000)
        // Every pattern is found through the automaton: none has to run for every user agent.
        #expect(matcher.unfilteredPatterns.isEmpty, "\(matcher.unfilteredPatterns)")
    }

    @Test func everyExampleCrawlerMatchesItsOwnPatternAndTheList() {
        let matcher = CrawlerMatcher.shared
        var examples = 0
        for (index, entry) in VendoredList.entries.enumerated() {
            for instance in entry.instances {
                examples += 1
                #expect(matcher.patternMatches(index, instance), "\(entry.pattern) on \(instance)")
                #expect(matcher.matches(instance), "\(instance)")
            }
        }
        #expect(examples > 2000)
    }

    @Test func browsersDoNotMatch() {
        for agent in browserUserAgents {
            let hit = agent.withCString { CrawlerMatcher.shared.match(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
            #expect(hit == nil, "\(agent) matched \(String(describing: hit))")
        }
    }

    /// Python's `re` as the reference: the list's patterns over the examples, the browsers,
    /// and the examples cut short and with a byte changed (near misses are where a prefilter goes wrong).
    @Test func agreesWithPythonsRegularExpressions() throws {
        var samples = browserUserAgents
        for entry in VendoredList.entries {
            for instance in entry.instances {
                samples.append(instance)
                let bytes = Array(instance.utf8)
                samples.append(String(decoding: bytes.prefix(bytes.count / 2), as: UTF8.self))
                var changed = bytes
                changed[bytes.count / 2] ^= 0x20
                samples.append(String(decoding: changed, as: UTF8.self))
            }
        }
        let script = """
            import json, re, sys
            patterns = [e["pattern"] for e in json.load(open(sys.argv[1]))]
            compiled = [re.compile(p) for p in patterns]
            for line in sys.stdin.read().split("\\n"):
                print(1 if any(p.search(line) for p in compiled) else 0)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, VendoredList.url.path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let lines = samples.map { $0.replacingOccurrences(of: "\n", with: " ") }
        input.fileHandleForWriting.write(Data(lines.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        let answers = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        process.waitUntilExit()
        #expect(answers.count == lines.count)
        var disagreements: [String] = []
        for (line, answer) in zip(lines, answers) where CrawlerMatcher.shared.matches(line) != (answer == "1") {
            disagreements.append("\(answer): \(line)")
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func theSupportedSubsetMeansWhatRegularExpressionsMean() throws {
        let matcher = try CrawlerMatcher(patterns: [
            "^curl", "AdsBot-Google([^-]|$)", "Spider[\\s\\S]*spider\\.com", "(sistrix|SISTRIX) [cC]rawler",
            "BlogTraffic\\/\\d\\.\\d+ Feed-Fetcher", "GoogleAssociationService$", "colou?r(?:ful)*x",
        ])
        func hit(_ text: String) -> String? { text.withCString { s in
            guard case .pattern(let index) = matcher.match(UnsafeRawBufferPointer(start: s, count: strlen(s))) else { return nil }
            return matcher.patterns[index] } }
        #expect(hit("curl/8.5") == "^curl")
        #expect(hit("x curl/8.5") == nil)
        #expect(hit("AdsBot-Google") == "AdsBot-Google([^-]|$)")
        #expect(hit("AdsBot-Google (+http)") == "AdsBot-Google([^-]|$)")
        #expect(hit("AdsBot-Google-Mobile") == nil)
        #expect(hit("Spider 1.0 (spider.com)") != nil)
        #expect(hit("Spider 1.0 (spiderxcom)") == nil)
        #expect(hit("SISTRIX Crawler") != nil)
        #expect(hit("sistrix crawler") != nil)
        #expect(hit("Sistrix Crawler") == nil)
        #expect(hit("BlogTraffic/1.23 Feed-Fetcher") != nil)
        #expect(hit("BlogTraffic/1. Feed-Fetcher") == nil)
        #expect(hit("GoogleAssociationService") != nil)
        #expect(hit("GoogleAssociationService/1") == nil)
        #expect(hit("colorfulfulx") != nil)
        #expect(hit("colourx") != nil)
        #expect(hit("colouux") == nil)
    }

    @Test func unsupportedFeaturesAreRefusedAtLoad() {
        for pattern in ["a{2}", "(?=bot)", "\\bbot", "(a)\\1", "[z-a]", "(bot", "bot)", "*bot", "[]", "\\"] {
            #expect(throws: CrawlerPatternError.self, "\(pattern)") { try CrawlerMatcher(patterns: [pattern]) }
        }
    }

    /// Starts of the list's `[\s\S]*` patterns, never completed: their threads stay alive to the end.
    static let openEnded = "Spider Current ContextualBot outcomes.ne RSS Reade spider.co "
    /// The literals of more than four patterns whose programs then fail.
    static let nearMisses = "ContextualBot AdsBot-Google- sistrix RSS Reader Feed-Fetcher spider.com "

    /// A program's time grows with the user agent's length, not faster (a backtracking engine is quadratic or worse
    /// on the list's `[\s\S]*` patterns).
    @Test func programsTakeLinearTime() {
        let matcher = CrawlerMatcher.shared
        let slowest = ["Spider[\\s\\S]*spider\\.com", "Current[\\s\\S]*RSS Reader", "ContextualBot[\\s\\S]*outcomes\\.net"]
            .map { matcher.patterns.firstIndex(of: $0)! }
        func agent(_ bytes: Int) -> String {
            String(String(repeating: Self.openEnded, count: bytes / Self.openEnded.utf8.count + 1).utf8.prefix(bytes))!
        }
        func fastest(_ text: String) -> Double {
            var best = Double.infinity
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                for index in slowest { #expect(!matcher.patternMatches(index, text)) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
            }
            return best
        }
        // From 8 KiB on, the cost per byte is flat (below, caches make short texts cheaper per byte).
        let short = fastest(agent(8 << 10)), long = fastest(agent(64 << 10))
        // Eight times the bytes: linear means about eight times the time, quadratic 64 times. The bound sits far
        // from both, so that a loaded machine's noise cannot fail it and a quadratic program still does.
        #expect(long < short * 24, "8 KiB: \(short) ns, 64 KiB: \(long) ns")
    }

    /// However many near misses a user agent holds, at most `maxProgramRuns` programs run for it.
    @Test func manyNearMissesAreBoundedAndCountAsACrawler() {
        let matcher = CrawlerMatcher.shared
        let hostile = Array(String(repeating: Self.nearMisses, count: 30).utf8.prefix(2048))
        #expect(hostile.withUnsafeBytes { matcher.match($0) } == .nearMisses)
        // Up to the bound, near misses alone are no match.
        #expect(matcher.matches("Mozilla/5.0 ContextualBot AdsBot-Google- sistrix RSS Reader") == false)
    }
}
