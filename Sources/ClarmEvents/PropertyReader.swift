import ClarmJSON

/// Reads the top-level members of a stored (already validated) properties object as text: strings
/// unescaped, anything else as written (`49.90`, `true`, `null`, `[1,2]`).
public struct PropertyReader {
    private var scratch: [UInt8] = []

    public init() {}

    /// Calls `body(key, text)` for each member, in order; a malformed object yields what came before the damage.
    public mutating func forEachMember(_ properties: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        forEachMember(properties) { key, text, _ in body(key, text) }
    }

    /// Calls `body(key, text, kind)` for each member, in order: `kind` tells a string `"19.99"` from a number
    /// `19.99`, whose texts are the same.
    public mutating func forEachMember(_ properties: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, JSONValueKind) -> Void) {
        guard !properties.isEmpty else { return }
        var scanner = JSONScanner(properties)
        do throws(JSONError) {
            try scanner.enterObject()
            var first = true
            while let key = try scanner.nextMember(first: &first) {
                // Keys with escapes are compared in their escaped form; the dashboards' keys have none.
                let name = UnsafeRawBufferPointer(rebasing: properties[key.range])
                let kind = try scanner.valueKind()
                if kind == .string {
                    let string = try scanner.string()
                    let raw = UnsafeRawBufferPointer(rebasing: properties[string.range])
                    if string.hasEscapes {
                        scratch.removeAll(keepingCapacity: true)
                        JSONUnescaper.unescape(raw, appendingTo: &scratch)
                        scratch.withUnsafeBytes { body(name, $0, kind) }
                    } else {
                        body(name, raw, kind)
                    }
                } else {
                    let start = scanner.position
                    try scanner.skipValue()
                    body(name, UnsafeRawBufferPointer(rebasing: properties[start..<scanner.position]), kind)
                }
            }
        } catch {
            // Properties were validated on the way in; damage ends the walk.
        }
    }

    /// The last top-level member `key` when it is a JSON number whose value is finite (`1e999` is not);
    /// nil for strings (even `"19.99"`), other kinds, and absence.
    public mutating func finiteNumber(_ key: String, in properties: UnsafeRawBufferPointer) -> Double? {
        var found: Double? = nil
        forEachMember(properties) { name, text, kind in
            guard name.elementsEqual(key.utf8) else { return }
            found = kind == .number ? Self.finiteValue(ofNumber: text) : nil
        }
        return found
    }

    /// The value of a JSON number's text when it is finite (a number too large for a Double is not).
    public static func finiteValue(ofNumber text: UnsafeRawBufferPointer) -> Double? {
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}
