import ClarmEvents
import ClarmJSON
import Foundation

/// Where matching events go: a customer's webhook, a Slack incoming webhook, or HubSpot (README, "Integrations").
public struct Destination: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case webhook, slack, hubspot
    }

    public var id: String
    public var kind: Kind
    public var site: String
    /// Event names to deliver; `["*"]` takes every event.
    public var events: [String]
    /// webhook and slack: where to POST.
    public var url: String = ""
    /// webhook: `whsec_` + base64 of the signing key. Never shown after creation.
    public var secret: String = ""
    /// webhook: events per delivery (1 sends `event.<name>` bodies, more sends `event.batch`).
    public var batch = 1
    /// hubspot: the private app token. Never shown after creation.
    public var token: String = ""
    public var apiBase = "https://api.hubapi.com"
    /// hubspot: the contact property `plan` is written to, and the custom event purchases and goals become.
    public var planProperty = "clarm_plan"
    public var eventName = ""
    /// Off after a `410 Gone` (or by the operator); an enabled one is delivered to.
    public var enabled = true

    public static let maxEvents = 64
    public static let maxFieldBytes = 2048

    /// Whether `event` goes to this destination.
    public func matches(_ event: EventRecord) -> Bool {
        event.site == site && (events.contains("*") || events.contains(event.event))
    }

    /// The feed consumer of this destination.
    public var consumer: String { "dest-\(id)" }

    /// A destination from a request body or the file. `id` and `secret` are drawn when absent (creation);
    /// `existing` gives what a change keeps (secrets, when the body leaves them out).
    public static func parse(_ value: JSONValue, id: String?, existing: Destination? = nil) throws(IntegrationError) -> Destination {
        guard case .object = value else { throw .invalid("a destination is a JSON object") }
        func text(_ key: String, required: Bool = false) throws(IntegrationError) -> String? {
            guard let member = value[key], member != .null else {
                if required { throw .invalid("\(key) is required") }
                return nil
            }
            guard let string = member.string else { throw .invalid("\(key) must be a string") }
            guard string.utf8.count <= maxFieldBytes else { throw .invalid("\(key) is longer than \(maxFieldBytes) bytes") }
            // Tokens, URLs and secrets end up in request lines and headers: a CR or LF would add headers of its own.
            guard !string.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw .invalid("\(key) must not hold control characters (CR, LF, tab…)")
            }
            return string
        }
        guard let kind = Kind(rawValue: try text("type", required: true) ?? "") else {
            throw .invalid("type must be one of webhook, slack, hubspot")
        }
        if let existing, existing.kind != kind { throw .invalid("type cannot change (remove and add instead)") }
        let site = (try text("site", required: true) ?? "").lowercased()
        guard !site.isEmpty, site.utf8.count <= 253 else { throw .invalid("site must be a host name") }
        guard let list = value["events"]?.array, !list.isEmpty, list.count <= maxEvents else {
            throw .invalid("events must be an array of 1 to \(maxEvents) event names, or [\"*\"]")
        }
        var events: [String] = []
        for item in list {
            guard let name = item.string, (1...64).contains(name.utf8.count) else { throw .invalid("events holds names of 1 to 64 bytes") }
            events.append(name)
        }
        let identifier = id ?? existing?.id ?? randomToken(bytes: 8, alphabet: .hex)
        var destination = Destination(id: identifier, kind: kind, site: site, events: events)
        if let enabled = value["enabled"] {
            guard case .bool(let on) = enabled else { throw .invalid("enabled must be true or false") }
            destination.enabled = on
        } else if let existing {
            destination.enabled = existing.enabled
        }
        switch kind {
        case .webhook, .slack:
            destination.url = try text("url", required: true) ?? ""
            // A Slack URL sent back as the listing masked it (the dashboard's enable/disable) keeps the saved one.
            if kind == .slack, let existing, destination.url == Self.masked(existing.url) { destination.url = existing.url }
            try DestinationAddress.checkSyntax(destination.url)
        case .hubspot:
            break
        }
        if kind == .webhook {
            if let secret = try text("secret") {
                guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), (16...64).contains(key.count) else {
                    throw .invalid("secret must be whsec_ followed by the base64 of 16 to 64 bytes")
                }
                destination.secret = secret
            } else {
                destination.secret = existing?.secret ?? "whsec_" + randomToken(bytes: 24, alphabet: .base64)
            }
            if let batch = value["batch"] {
                guard case .number(let n) = batch, let size = Int(n), (1...100).contains(size) else { throw .invalid("batch must be 1...100") }
                destination.batch = size
            }
        }
        if kind == .hubspot {
            destination.apiBase = try text("api_base") ?? existing?.apiBase ?? destination.apiBase
            try DestinationAddress.checkSyntax(destination.apiBase)
            // A stored token goes only where it went before: a new api_base must come with its token, or a key
            // holder could have the gateway send the token to any host.
            let keeps = existing.map { $0.apiBase == destination.apiBase } ?? false
            guard let token = try text("token") ?? (keeps ? existing?.token : nil), !token.isEmpty else {
                throw .invalid(existing == nil ? "token is required" : "token is required when api_base changes")
            }
            destination.token = token
            destination.planProperty = try text("plan_property") ?? destination.planProperty
            destination.eventName = try text("event_name") ?? ""
        }
        return destination
    }

    /// Whether requests built for `self` go to `other` unchanged: same receiver, same credentials.
    func sendsLike(_ other: Destination) -> Bool {
        kind == other.kind && url == other.url && secret == other.secret && token == other.token && apiBase == other.apiBase
    }

    /// The destination as JSON; secrets only when `secrets` (the file, and the answer to its creation).
    public func write(into json: inout JSONWriter, secrets: Bool) {
        json.raw(#"{"id":"#)
        json.string(id)
        json.raw(#","type":"#)
        json.string(kind.rawValue)
        json.raw(#","site":"#)
        json.string(site)
        json.raw(#","events":"#)
        json.strings(events)
        json.raw(#","enabled":"#)
        json.raw(enabled ? "true" : "false")
        switch kind {
        case .webhook:
            json.raw(#","url":"#)
            json.string(url)
        case .slack:
            // A Slack incoming webhook's URL is its credential: shown whole only when saved.
            json.raw(#","url":"#)
            json.string(secrets ? url : Self.masked(url))
        case .hubspot:
            json.raw(#","api_base":"#)
            json.string(apiBase)
            json.raw(#","plan_property":"#)
            json.string(planProperty)
            json.raw(#","event_name":"#)
            json.string(eventName)
        }
        if kind == .webhook {
            json.raw(#","batch":"#)
            json.integer(batch)
        }
        if secrets {
            if kind == .webhook {
                json.raw(#","secret":"#)
                json.string(secret)
            }
            if kind == .hubspot {
                json.raw(#","token":"#)
                json.string(token)
            }
        }
    }
}

extension Destination {
    /// `https://hooks.slack.com/services/…XXXX`: the scheme, host and first path segment, and the last 4 characters.
    static func masked(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return "…" }
        let afterHost = url[scheme.upperBound...].split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        let prefix = url[..<scheme.upperBound] + afterHost.prefix(2).joined(separator: "/")
        return prefix + "/…" + String(url.suffix(4))
    }
}

/// A request about destinations that cannot be done, with its HTTP status.
public enum IntegrationError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case notFound(String)
    case full(Int)
    case notSaved(String)
    case refused(String)
    /// The destination is in a state where the request cannot be done now.
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let why): "invalid destination: \(why)"
        case .notFound(let id): "no destination \(id)"
        case .full(let limit): "at most \(limit) destinations"
        case .notSaved(let why): "cannot save destinations: \(why)"
        case .refused(let why), .conflict(let why): why
        }
    }

    public var status: Int {
        switch self {
        case .invalid, .refused: 400
        case .notFound: 404
        case .full, .conflict: 409
        case .notSaved: 500
        }
    }
}

enum TokenAlphabet { case hex, base64 }

/// `bytes` random bytes, as lowercase hex or base64.
func randomToken(bytes count: Int, alphabet: TokenAlphabet) -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    switch alphabet {
    case .hex: return bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
    case .base64: return Data(bytes).base64EncodedString()
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
