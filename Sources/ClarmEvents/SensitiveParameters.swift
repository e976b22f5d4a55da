/// The query parameter names that suggest credentials or personal data, removed from stored URLs (`URLScrubber`).
///
/// A parameter's name is compared after percent-decoding, lowercasing ASCII and dropping `_`, `-`, `.`, `[` and
/// `]`, so `access_token`, `Access-Token`, `accessToken`, `%61ccess_token` and `user[access_token]` read alike.
/// An entry without `*` matches that whole name; an entry `*word` matches every name ending in `word`, for
/// words too specific to end a harmless name (`*token` takes `csrf_token`; `key` stays exact, so `keyboard`
/// and `monkey` stay).
public struct SensitiveParameters: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The documented list (README, "What is logged and stored about a visitor"). At most 64 entries.
    public static let names: [String] = [
        // Credentials: bearer tokens, OAuth flows, keys, passwords, sessions, signed URLs.
        "*token", "auth", "authorization", "*secret", "*password", "*passwd", "pwd", "pass", "key", "*apikey",
        "session", "*sessionid", "sid", "jwt", "code", "otp", "pin", "*signature", "sig", "*credential",
        "credentials",
        // Personal data: contact details, identity numbers, payment cards.
        "*email", "mail", "phone", "phonenumber", "tel", "telephone", "mobile", "ssn", "creditcard", "cardnumber",
        "ccnumber", "cc", "cvv", "cvc", "iban", "username", "firstname", "lastname", "fullname", "birthdate", "dob",
    ]

    /// Every entry of the list.
    public static let all = SensitiveParameters(rawValue: names.count == 64 ? .max : (1 << UInt64(names.count)) - 1)

    /// The entry a keep list names (`"token"` is not `"*token"`: a keep list names entries as listed).
    public static func entry(_ name: String) -> SensitiveParameters? {
        names.firstIndex(of: name.lowercased()).map { SensitiveParameters(rawValue: 1 << UInt64($0)) }
    }

    /// The list's entries as bytes, with whether each matches as a suffix. None is longer than 16 bytes, the
    /// tail of a name `URLScrubber` compares.
    static let patterns: [(bytes: [UInt8], suffix: Bool)] = names.map { name in
        name.hasPrefix("*") ? (Array(name.utf8.dropFirst()), true) : (Array(name.utf8), false)
    }
}

/// Which sensitive parameters a site keeps in its stored URLs.
public protocol KeptParameterLookup: AnyObject, Sendable {
    /// The entries of `SensitiveParameters.names` the site named `site` (lowercase bytes) keeps.
    func keptParameters(site: UnsafeRawBufferPointer) -> SensitiveParameters
}
