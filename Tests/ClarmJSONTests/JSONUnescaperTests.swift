import Testing
@testable import ClarmJSON

@Suite struct JSONUnescaperTests {
    static let cases: [(String, String)] = [
        (#"plain"#, "plain"),
        (#"a\"b\\c\/d"#, "a\"b\\c/d"),
        (#"\b\f\n\r\t"#, "\u{8}\u{c}\n\r\t"),
        (#"\u0041\u00e9\u20ac"#, "Aé€"),
        (#"\ud83d\ude00!"#, "😀!"),
        (#"caf\u00E9 au lait"#, "café au lait"),
        (#"\u0000"#, "\u{0}"),
    ]

    @Test(arguments: cases)
    func unescapes(_ raw: String, _ expected: String) {
        let quoted = Array("\"\(raw)\"".utf8)
        #expect(validate(quoted) == nil)
        var out: [UInt8] = []
        Array(raw.utf8).withUnsafeBytes { JSONUnescaper.unescape($0, appendingTo: &out) }
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func writerRoundTrips() {
        var writer = JSONWriter()
        let text = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 😀"
        writer.string(text)
        #expect(validate(writer.bytes) == nil)
        var out: [UInt8] = []
        writer.bytes.withUnsafeBytes { JSONUnescaper.unescape(UnsafeRawBufferPointer(rebasing: $0.dropFirst().dropLast()), appendingTo: &out) }
        #expect(String(decoding: out, as: UTF8.self) == text)
    }

    @Test func writerArrays() {
        var writer = JSONWriter()
        writer.array([[String](), ["a"], ["b", "c\""]]) { item, json in json.strings(item) }
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"[[],["a"],["b","c\""]]"#)
        #expect(validate(writer.bytes) == nil)
    }

    @Test func writerIntegers() {
        for value in [0, 7, 10, 99, 100, 1234567890, -1, -42, Int.max, Int.min] {
            var writer = JSONWriter()
            writer.integer(value)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == String(value))
        }
    }
}
