import Testing
@testable import ClarmGateway

/// A visitor id in the path is percent-decoded only: `+` means a space in query strings, not in paths.
@Suite struct VisitorPathTests {
    static func visitor(_ path: String) -> String? {
        Array(path.utf8).withUnsafeBytes {
            guard case .visitor(let id) = Gateway.listRoute($0) else { return nil }
            return id
        }
    }

    @Test func plusStaysPlusAndPercentEscapesAreDecoded() {
        #expect(Self.visitor("/api/visitors/a+b") == "a+b")
        #expect(Self.visitor("/api/visitors/a%2Bb%20c") == "a+b c")
    }
}
