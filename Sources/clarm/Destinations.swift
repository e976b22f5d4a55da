import ArgumentParser
import Foundation

/// `clarm destinations add|list|remove|test|replay`: where a running gateway pushes events (README,
/// "Integrations"), through its HTTP API.
struct Destinations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list, test and remove the webhook, Slack and HubSpot destinations of a running gateway.",
        subcommands: [Add.self, List.self, Remove.self, Test.self, Replay.self]
    )

    static func path(_ id: String, _ action: String = "") -> String {
        "/api/destinations/" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id) + action
    }

    static func print(json: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
        Swift.print(String(decoding: data, as: UTF8.self))
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a destination (POST /api/destinations); prints its secret, shown this once.")

        @OptionGroup var connection: Sites.Connection

        @Argument(help: "webhook, slack or hubspot.")
        var type: String

        @Option(help: "The site whose events it receives.")
        var site: String

        @Option(name: .customLong("event"), help: "An event name it receives (repeatable; * for all).")
        var events: [String] = ["*"]

        @Option(help: "webhook, slack: the URL events are POSTed to.")
        var url: String?

        @Option(help: "webhook: events per delivery, 1...100.")
        var batch: Int?

        @Option(help: "hubspot: a file holding the private app token (kept out of the process list).")
        var tokenFile: String?

        @Option(help: "hubspot: the API's base URL.")
        var apiBase: String?

        @Option(help: "hubspot: the custom behavioural event purchases and goals become.")
        var eventName: String?

        func run() throws {
            var body: [String: Any] = ["type": type, "site": site, "events": events]
            if let url { body["url"] = url }
            if let batch { body["batch"] = batch }
            if let apiBase { body["api_base"] = apiBase }
            if let eventName { body["event_name"] = eventName }
            if let tokenFile {
                guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                    throw ValidationError("cannot read --token-file \(tokenFile)")
                }
                body["token"] = token.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let answer = try connection.request("POST", "/api/destinations", body: body)
            Swift.print("added \(answer["type"] as? String ?? type) destination \(answer["id"] as? String ?? "?")")
            if let secret = answer["secret"] as? String {
                Swift.print("signing secret (shown this once): \(secret)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List destinations with their delivery state (GET /api/destinations).")

        @OptionGroup var connection: Sites.Connection

        @Flag(help: "Print the gateway's JSON answer as it is.")
        var json = false

        func run() throws {
            let answer = try connection.request("GET", "/api/destinations")
            if json { return try Destinations.print(json: answer) }
            let destinations = answer["destinations"] as? [[String: Any]] ?? []
            if destinations.isEmpty { return Swift.print("no destinations") }
            Swift.print(["id", "type", "site", "enabled", "delivered", "backlog bytes", "dead letters", "last error"].joined(separator: "\t"))
            for destination in destinations {
                let state = destination["state"] as? [String: Any] ?? [:]
                Swift.print([destination["id"] as? String ?? "", destination["type"] as? String ?? "", destination["site"] as? String ?? "",
                             "\(destination["enabled"] ?? "")", "\(state["delivered"] ?? "")", "\(state["backlog_bytes"] ?? "")",
                             "\(state["dead_lettered"] ?? "")", state["last_error"] as? String ?? "-"].joined(separator: "\t"))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a destination (DELETE /api/destinations/ID); what it had not delivered is dropped.")

        @OptionGroup var connection: Sites.Connection

        @Argument(help: "The destination's id.")
        var id: String

        func run() throws {
            _ = try connection.request("DELETE", Destinations.path(id))
            Swift.print("removed \(id)")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a sample event now (POST /api/destinations/ID/test) and print the receiver's answer.")

        @OptionGroup var connection: Sites.Connection

        @Argument(help: "The destination's id.")
        var id: String

        func run() throws {
            let answer = try connection.request("POST", Destinations.path(id, "/test"))
            if answer["delivered"] as? Bool == true { return Swift.print("delivered") }
            Swift.print("not delivered: \(answer["error"] as? String ?? "?")")
            throw ExitCode.failure
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send again (POST /api/destinations/ID/replay): the dead-lettered messages, or the stored events of a time range with --from and --to.")

        @OptionGroup var connection: Sites.Connection

        @Argument(help: "The destination's id.")
        var id: String

        @Option(help: "Replay the stored events from this RFC 3339 time on (with --to), e.g. 2026-12-01T00:00:00Z.")
        var from: String?

        @Option(help: "Replay the stored events before this RFC 3339 time (with --from; at most 31 days after it).")
        var to: String?

        func validate() throws {
            guard (from == nil) == (to == nil) else { throw ValidationError("--from and --to go together") }
        }

        func run() throws {
            if let from, let to {
                let answer = try connection.request("POST", Destinations.path(id, "/replay"), body: ["from": from, "to": to])
                return Swift.print("queued \(answer["replayed_events"] ?? 0) events again")
            }
            let answer = try connection.request("POST", Destinations.path(id, "/replay"), body: ["dead_letters": true])
            Swift.print("queued \(answer["requeued_messages"] ?? 0) messages (\(answer["requeued_events"] ?? 0) events) again")
        }
    }
}
