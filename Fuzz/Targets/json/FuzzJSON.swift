import ClarmFuzzSupport
import ClarmJSON
import Foundation

/// libFuzzer entry: the JSON scanner, the unescaper and the document parser over arbitrary bytes.
///
/// - `JSONScanner.validate` and `JSONValue.parse` accept the same inputs and fail with the same error, whose
///   offset lies in the input;
/// - every accepted string unescapes to valid UTF-8, and an accepted document written back with `JSONWriter`
///   parses to the same value;
/// - on inputs where the two are meant to agree (`FuzzJSON.comparableWithFoundation`), Foundation's
///   `JSONSerialization` accepts exactly what the scanner accepts, but for trailing commas, which it allows.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var validated: JSONError? = nil
    do throws(JSONError) { try JSONScanner.validate(input) } catch { validated = error }
    var parsed: JSONValue? = nil
    var parseError: JSONError? = nil
    do throws(JSONError) { parsed = try JSONValue.parse(input) } catch { parseError = error }
    fuzzCheck(validated == parseError, "validate: \(String(describing: validated)), parse: \(String(describing: parseError))")
    if let validated { fuzzCheck(validated.offset <= input.count, "error offset \(validated.offset) of \(input.count)") }

    if let parsed {
        var scanner = JSONScanner(input)
        do throws(JSONError) { try FuzzJSON.checkStrings(&scanner) } catch { fuzzCheck(false, "second walk failed: \(error)") }
        var writer = JSONWriter()
        FuzzJSON.write(parsed, to: &writer)
        let again = writer.bytes.withUnsafeBytes { try? JSONValue.parse($0) }
        fuzzCheck(again == parsed, "written back as \(String(decoding: writer.bytes, as: UTF8.self)), reads differently")
    }

    if FuzzJSON.comparableWithFoundation(input) {
        let foundation = (try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])) != nil
        // Foundation also takes a trailing comma before `]` or `}`; RFC 8259 does not.
        let lenient = foundation && validated?.reason == .trailingComma
        fuzzCheck(lenient || foundation == (parsed != nil),
                  "JSONSerialization \(foundation ? "accepts" : "rejects"), the scanner says \(String(describing: validated))")
    }
    return 0
}

enum FuzzJSON {
    /// Walks a document with the scanner's forward API, unescaping every string (keys included).
    static func checkStrings(_ scanner: inout JSONScanner) throws(JSONError) {
        switch try scanner.valueKind() {
        case .object:
            try scanner.enterObject()
            var first = true
            while let key = try scanner.nextMember(first: &first) {
                checkUnescapes(key, scanner.bytes)
                try checkStrings(&scanner)
            }
        case .array:
            try scanner.enterArray()
            var first = true
            while try scanner.nextElement(first: &first) { try checkStrings(&scanner) }
        case .string:
            checkUnescapes(try scanner.string(), scanner.bytes)
        default:
            try scanner.skipValue()
        }
    }

    private static func checkUnescapes(_ string: JSONString, _ bytes: UnsafeRawBufferPointer) {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[string.range])
        fuzzCheck(string.hasEscapes == raw.contains(UInt8(ascii: "\\")), "hasEscapes is \(string.hasEscapes)")
        var out: [UInt8] = []
        withExactCopy(of: raw) { JSONUnescaper.unescape(UnsafeRawBufferPointer($0), appendingTo: &out) }
        fuzzCheck(String(validating: out, as: UTF8.self) != nil, "unescaped to invalid UTF-8: \(out)")
        fuzzCheck(out.count <= raw.count, "unescaping grew \(raw.count) bytes to \(out.count)")
    }

    static func write(_ value: JSONValue, to writer: inout JSONWriter) {
        switch value {
        case .null: writer.raw("null")
        case .bool(let b): writer.raw(b ? "true" : "false")
        case .number(let text): writer.bytes.append(contentsOf: text.utf8)
        case .string(let text): writer.string(text)
        case .array(let elements): writer.array(elements) { element, writer in write(element, to: &writer) }
        case .object(let members):
            writer.raw("{")
            for (index, member) in members.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.string(member.key)
                writer.raw(":")
                write(member.value, to: &writer)
            }
            writer.raw("}")
        }
    }

    /// Inputs on which Foundation and the scanner follow the same rules: printable ASCII and JSON whitespace
    /// only (Foundation guesses UTF-16 and UTF-32 from NUL bytes and skips a BOM), nesting well under both
    /// depth limits, no surrogate escapes (the scanner rejects lone ones) and no exponents or long numbers
    /// (Foundation refuses numbers a Double cannot hold).
    static func comparableWithFoundation(_ input: UnsafeRawBufferPointer) -> Bool {
        var opens = 0, digits = 0
        for i in input.indices {
            let c = input[i]
            switch c {
            case 0x09, 0x0A, 0x0D, 0x20...0x7E: break
            default: return false
            }
            let previous = i > 0 ? input[i - 1] : 0
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { opens += 1 }
            if c | 0x20 == UInt8(ascii: "e"), previous &- 0x30 < 10 || previous == UInt8(ascii: ".") { return false }
            if c == UInt8(ascii: "u"), previous == UInt8(ascii: "\\"), i + 1 < input.count, input[i + 1] | 0x20 == UInt8(ascii: "d") {
                return false
            }
            digits = c &- 0x30 < 10 ? digits + 1 : 0
            if digits > 15 || opens > 32 { return false }
        }
        return true
    }
}
