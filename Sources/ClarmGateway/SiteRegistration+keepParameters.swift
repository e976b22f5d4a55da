import ClarmEvents
import ClarmJSON

extension SiteRegistration {
    /// Reads `keep_parameters`: up to `maxKeepParameters` entries of `SensitiveParameters.names`, as listed
    /// (`*token`, not `access_token`), lowercased and without repeats.
    static func keepParameters(_ value: JSONValue?) throws(SiteRegistrationError) -> [String] {
        let rule = "keep_parameters must be an array of at most \(maxKeepParameters) names from the list of sensitive URL parameters (README), such as [\"code\", \"*token\"]"
        switch value {
        case nil, .null?:
            return []
        case .array(let items)?:
            guard items.count <= maxKeepParameters else { throw SiteRegistrationError(rule) }
            var names: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw SiteRegistrationError(rule) }
                guard SensitiveParameters.entry(text) != nil else {
                    throw SiteRegistrationError("keep_parameters: \(String(text.prefix(64)).debugDescription) is not on the list of sensitive URL parameters (README); names are \(SensitiveParameters.names.joined(separator: ", "))")
                }
                let name = text.lowercased()
                if !names.contains(name) { names.append(name) }
            }
            return names
        default:
            throw SiteRegistrationError(rule)
        }
    }

    /// The entries the site keeps, as a set.
    var keptParameters: SensitiveParameters {
        keepParameters.reduce(into: []) { $0.formUnion(SensitiveParameters.entry($1) ?? []) }
    }
}
