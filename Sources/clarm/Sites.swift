import ArgumentParser
import ClarmHTTPClient
import Foundation

/// `clarm sites add|list|remove`: the registered sites of a running gateway, through its HTTP API (the data
/// directory belongs to the running server).
struct Sites: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, list and remove the sites a running gateway accepts events for.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The gateway, as http://HOST[:PORT].")
        var url = "http://127.0.0.1:8080"

        @Option(help: "An API key of the gateway (sent as Authorization: Bearer KEY).")
        var apiKey: String?

        @Option(help: "A file whose first key line (blank lines and # comments skipped) is the API key; keeps it out of the process list.")
        var apiKeyFile: String?

        /// Sends one request; prints the gateway's error and fails on an answer other than 2xx.
        func request(_ method: String, _ path: String, body: [String: Any]? = nil) throws -> [String: Any] {
            let client: BlockingHTTPClient
            do { client = try BlockingHTTPClient(url: url) } catch { throw ValidationError(error.description) }
            var headers: [(String, String)] = []
            if let key = try key() { headers.append(("Authorization", "Bearer \(key)")) }
            let payload = try body.map { Array(try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])) }
            let answer = try client.send(method, path, headers: headers, body: payload)
            let json = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any] ?? [:]
            guard (200..<300).contains(answer.status) else {
                let message = json["error"] as? String ?? String(decoding: answer.body, as: UTF8.self)
                FileHandle.standardError.write(Data("clarm: \(answer.status): \(message)\n".utf8))
                throw ExitCode.failure
            }
            return json
        }

        private func key() throws -> String? {
            if let apiKey { return apiKey }
            guard let apiKeyFile else { return nil }
            guard let text = try? String(contentsOfFile: apiKeyFile, encoding: .utf8) else {
                throw ValidationError("cannot read --api-key-file \(apiKeyFile)")
            }
            return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty && !$0.hasPrefix("#") }
        }
    }

    static func path(_ site: String) -> String {
        "/api/sites/" + (site.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: ".-"))) ?? site)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a site (POST /api/sites), or change it with --replace (PUT).")

        @OptionGroup var connection: Connection

        @Argument(help: "The site, a host name such as shop.example.com (the data-site of its script tag).")
        var site: String

        @Option(help: "The time zone of its reports, from the tz database (default UTC).")
        var timezone: String?

        @Option(name: .customLong("origin"), help: "A browser origin allowed to send its events, exactly scheme://host[:port]; repeatable.")
        var origins: [String] = []

        @Option(help: "Events a second the site may send (0: no limit).")
        var eventsPerSecond: Int?

        @Option(help: "Events the site may send at once before --events-per-second applies.")
        var eventsBurst: Int?

        @Option(name: .customLong("keep-parameter"), help: "An entry of the list of sensitive URL parameters (README) the site's stored URLs keep, such as code or *token; repeatable.")
        var keepParameters: [String] = []

        @Flag(help: "Replace the registration of a site already registered.")
        var replace = false

        func run() throws {
            var body: [String: Any] = ["site": site, "origins": origins]
            if let timezone { body["timezone"] = timezone }
            if let eventsPerSecond { body["events_per_second"] = eventsPerSecond }
            if let eventsBurst { body["events_burst"] = eventsBurst }
            if !keepParameters.isEmpty { body["keep_parameters"] = keepParameters }
            let answer = replace
                ? try connection.request("PUT", Sites.path(site), body: body)
                : try connection.request("POST", "/api/sites", body: body)
            print("\(replace ? "changed" : "registered") \(answer["site"] as? String ?? site): timezone \(answer["timezone"] as? String ?? "?"), origins \((answer["origins"] as? [String] ?? []).joined(separator: " ")), \(answer["events_per_second"] ?? "?") events/s (burst \(answer["events_burst"] ?? "?"))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered sites with their event counts (GET /api/sites).")

        @OptionGroup var connection: Connection

        @Flag(help: "Print the gateway's JSON answer as it is.")
        var json = false

        func run() throws {
            let answer = try connection.request("GET", "/api/sites")
            let sites = answer["sites"] as? [[String: Any]] ?? []
            if json {
                let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            if sites.isEmpty {
                print("no site is registered: the gateway accepts events of every site")
                return
            }
            print(["site", "timezone", "events", "last event", "events/s", "burst", "origins"].joined(separator: "\t"))
            for site in sites {
                print([site["site"] as? String ?? "", site["timezone"] as? String ?? "", "\(site["event_count"] ?? "")",
                       site["last_event_at"] as? String ?? "-", "\(site["events_per_second"] ?? "")", "\(site["events_burst"] ?? "")",
                       (site["origins"] as? [String] ?? []).joined(separator: " ")].joined(separator: "\t"))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a site (DELETE /api/sites/SITE); its stored events stay.")

        @OptionGroup var connection: Connection

        @Argument(help: "The site to remove.")
        var site: String

        func run() throws {
            _ = try connection.request("DELETE", Sites.path(site))
            print("removed \(site)")
        }
    }
}
