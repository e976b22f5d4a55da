import ClarmJSON

/// Reads the top-level members of a stored (already validated) properties object as text: strings
/// unescaped, anything else as written (`49.90`, `true`, `null`, `[1,2]`).
public struct PropertyReader {
    private var scratch: [UInt8] = []

    public init() {}

    /// Calls `body(key, text)` for each member, in order; a malformed object yields what came before the damage.
    public mutating func forEachMember(_ properties: UnsafeRawBufferPointer,
                                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        guard !properties.isEmpty else { return }
        var scanner = JSONScanner(properties)
        do throws(JSONError) {
            try scanner.enterObject()
            var first = true
            while let key = try scanner.nextMember(first: &first) {
                // Keys with escapes are compared in their escaped form; the dashboards' keys have none.
                let name = UnsafeRawBufferPointer(rebasing: properties[key.range])
                if try scanner.valueKind() == .string {
                    let string = try scanner.string()
                    let raw = UnsafeRawBufferPointer(rebasing: properties[string.range])
                    if string.hasEscapes {
                        scratch.removeAll(keepingCapacity: true)
                        JSONUnescaper.unescape(raw, appendingTo: &scratch)
                        scratch.withUnsafeBytes { body(name, $0) }
                    } else {
                        body(name, raw)
                    }
                } else {
                    scanner.skipWhitespace()
                    let start = scanner.position
                    try scanner.skipValue()
                    body(name, UnsafeRawBufferPointer(rebasing: properties[start..<scanner.position]))
                }
            }
        } catch {
            // Properties were validated on the way in; damage ends the walk.
        }
    }
}
