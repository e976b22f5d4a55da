import Testing
import ClarmTestSupport
@testable import ClarmJSON

func validate(_ bytes: [UInt8]) -> JSONError? {
    bytes.withUnsafeBytes { raw -> JSONError? in
        do throws(JSONError) {
            try JSONScanner.validate(raw)
            return nil
        } catch {
            return error
        }
    }
}

func validate(_ text: String) -> JSONError? { validate(Array(text.utf8)) }

@Suite struct JSONScannerTests {
    static let accepted: [String] = [
        "{}", "[]", " \t\r\n[ ] \n", "0", "-0", "1", "-1", "123456789012345678901234567890", "0.5", "-0.0e-0",
        "1e5", "1E+5", "1e-05", "1.25E10", "\"\"", "\"a\"", "true", "false", "null",
        "[1,2,3]", "[[[]]]", "{\"a\":{\"b\":[null,true,false]}}", "{\"a\":1,\"a\":2}", "[\"\\u0000\"]",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u20AC\"", "\"\\ud83d\\ude00\"", "\"\\uD834\\uDD1E\"",
        "\"caf\u{e9} \u{20ac} \u{1f600}\"", "\"\u{7f}\"", "\"\\uFFFF\"", "\"\u{10ffff}\"", "[1e999]", "[-1e-999]",
        "{\"\":\"\"}", "[\"a\" , \"b\"]", "{ \"k\" : \"v\" }",
    ]

    @Test(arguments: accepted)
    func acceptsValidJSON(_ text: String) {
        #expect(validate(text) == nil)
    }

    static let rejected: [(String, JSONError.Reason, Int)] = [
        ("", .unexpectedEnd, 0),
        ("   ", .unexpectedEnd, 3),
        ("[1,]", .trailingComma, 3),
        ("{\"a\":1,}", .trailingComma, 7),
        ("[,1]", .expectedValue, 1),
        ("[1 2]", .expectedCommaOrArrayEnd, 3),
        ("{\"a\" 1}", .expectedColon, 5),
        ("{\"a\":1 \"b\":2}", .expectedCommaOrObjectEnd, 7),
        ("{a:1}", .expectedKey, 1),
        ("{1:1}", .expectedKey, 1),
        ("{'a':1}", .expectedKey, 1),
        ("['a']", .expectedValue, 1),
        ("01", .leadingZero, 1),
        ("-01", .leadingZero, 2),
        ("[00]", .leadingZero, 2),
        ("1.", .unexpectedEnd, 2),
        ("1.e5", .badNumber, 2),
        (".5", .expectedValue, 0),
        ("+1", .expectedValue, 0),
        ("-", .unexpectedEnd, 1),
        ("-a", .badNumber, 1),
        ("1e", .unexpectedEnd, 2),
        ("1e+", .unexpectedEnd, 3),
        ("0x10", .trailingData, 1),
        ("NaN", .expectedValue, 0),
        ("Infinity", .expectedValue, 0),
        ("-Infinity", .badNumber, 1),
        ("tru", .unexpectedEnd, 3),
        ("trUe", .badLiteral, 2),
        ("nul", .unexpectedEnd, 3),
        ("True", .expectedValue, 0),
        ("\"abc", .unexpectedEnd, 4),
        ("\"a\u{1}b\"", .controlCharacterInString, 2),
        ("\"a\nb\"", .controlCharacterInString, 2),
        ("\"a\tb\"", .controlCharacterInString, 2),
        ("\"\\x\"", .badEscape, 2),
        ("\"\\'\"", .badEscape, 2),
        ("\"\\u12\"", .badEscape, 5),
        ("\"\\u12G4\"", .badEscape, 5),
        ("\"\\uD800\"", .loneSurrogate, 1),
        ("\"\\uDC00\"", .loneSurrogate, 1),
        ("\"\\uD800\\u0041\"", .loneSurrogate, 1),
        ("\"\\uD800\\n\"", .loneSurrogate, 1),
        ("\"\\uD800", .unexpectedEnd, 7),
        ("[1] [2]", .trailingData, 4),
        ("{} x", .trailingData, 3),
        ("[1", .unexpectedEnd, 2),
        ("{\"a\":", .unexpectedEnd, 5),
        ("{\"a\"", .unexpectedEnd, 4),
        ("{", .unexpectedEnd, 1),
        ("\u{feff}{}", .expectedValue, 0),
        ("[\u{a0}1]", .expectedValue, 1),
        ("[1\u{c}]", .expectedCommaOrArrayEnd, 2),
        ("/* c */ {}", .expectedValue, 0),
    ]

    @Test(arguments: rejected)
    func rejectsInvalidJSON(_ text: String, _ reason: JSONError.Reason, _ offset: Int) {
        #expect(validate(text) == JSONError(offset: offset, reason: reason))
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x22, 0x80, 0x22],                   // continuation byte alone
        [0x22, 0xC0, 0xAF, 0x22],             // overlong "/"
        [0x22, 0xC1, 0xBF, 0x22],             // overlong
        [0x22, 0xE0, 0x80, 0xAF, 0x22],       // overlong 3-byte
        [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], // overlong 4-byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],       // UTF-16 surrogate D800 encoded
        [0x22, 0xED, 0xBF, 0xBF, 0x22],       // surrogate DFFF
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // past U+10FFFF
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0xFE, 0x22], [0x22, 0xFF, 0x22],
        [0x22, 0xC3, 0x22],                   // truncated 2-byte
        [0x22, 0xE2, 0x82, 0x22],             // truncated 3-byte
        [0x22, 0xE9, 0x61, 0x22],             // latin-1 é
        [0x5B, 0xC3, 0xA9, 0x5D],             // non-ASCII outside a string
    ]

    @Test(arguments: invalidUTF8)
    func rejectsInvalidUTF8(_ bytes: [UInt8]) {
        #expect(validate(bytes) != nil)
    }

    @Test func depthLimit() {
        let deep = String(repeating: "[", count: JSONScanner.maxDepth) + String(repeating: "]", count: JSONScanner.maxDepth)
        #expect(validate(deep) == nil)
        let tooDeep = String(repeating: "[", count: JSONScanner.maxDepth + 1) + String(repeating: "]", count: JSONScanner.maxDepth + 1)
        #expect(validate(tooDeep) == JSONError(offset: JSONScanner.maxDepth, reason: .tooDeep))
        // Far deeper input must fail at the limit, not overflow the stack.
        let hostile = String(repeating: "{\"a\":[", count: 100_000)
        #expect(validate(hostile)?.reason == .tooDeep)
    }

    /// Every string of 1–4 bytes from an interesting alphabet, checked against the standard library's UTF-8 validation.
    @Test func utf8AgreesWithTheStandardLibrary() {
        let interesting: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                    0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var sequences: [[UInt8]] = interesting.map { [$0] }
        for _ in 0..<3 {
            sequences += sequences.filter { $0.count == sequences.last!.count }.flatMap { s in interesting.map { s + [$0] } }
        }
        for sequence in sequences {
            let expected = String(validating: sequence, as: UTF8.self) != nil
            let actual = validate([0x22] + sequence + [0x22]) == nil
            #expect(actual == expected, "\(sequence)")
        }
    }

    @Test func scannerWalksStructures() throws {
        let text = Array(#" {"a" : [1, "x\ty", {"b": null}], "c": -2.5e3 } "#.utf8)
        try text.withUnsafeBytes { raw in
            var s = JSONScanner(raw)
            try s.enterObject()
            var first = true
            let a = try #require(try s.nextMember(first: &first))
            #expect(String(decoding: raw[a.range], as: UTF8.self) == "a")
            #expect(try s.valueKind() == .array)
            try s.skipValue()
            let c = try #require(try s.nextMember(first: &first))
            #expect(c.hasEscapes == false)
            let number = try s.number()
            #expect(String(decoding: raw[number], as: UTF8.self) == "-2.5e3")
            #expect(try s.nextMember(first: &first) == nil)
            try s.expectEnd()
        }
    }

    @Test func neverCrashesOnMutatedDocuments() {
        var generator = SplitMix64(seed: 42)
        let seeds = Self.accepted.map { Array($0.utf8) } + [Array(#"[{"event":"page_view","visitor_id":"v\u00e9","properties":{"amount":12.5,"tags":["a",null]}}]"#.utf8)]
        let bytes: [UInt8] = Array("{}[]\",:\\u0123456789eE+-.tfn \n".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        for _ in 0..<20_000 {
            var doc = seeds[Int(generator.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + generator.next() % 3) {
                let position = doc.isEmpty ? 0 : Int(generator.next() % UInt64(doc.count))
                switch generator.next() % 3 {
                case 0 where !doc.isEmpty: doc.remove(at: position)
                case 1: doc.insert(bytes[Int(generator.next() % UInt64(bytes.count))], at: position)
                default: if !doc.isEmpty { doc[position] = bytes[Int(generator.next() % UInt64(bytes.count))] }
                }
            }
            if let error = validate(doc) {
                #expect(error.offset <= doc.count)
            }
        }
    }
}
