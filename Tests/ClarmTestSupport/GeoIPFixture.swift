import Foundation
import ClarmEvents

/// The test GeoIP database: Tests/GeoIP/networks.json written as a MaxMind-format file by
/// Tests/GeoIP/make-mmdb.pl (Debian's libmaxmind-db-writer-perl), so no test needs a download. Its probes are
/// addresses with the location the file must give them (Tests/Integration checks the file with MaxMind's reader).
public enum GeoIPFixture {
    public struct Probe: Sendable {
        public let address: String
        public let country: String
        public let region: String
        public let city: String
    }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("GeoIP")

    /// Writes the database from `networks` (default: networks.json's) with `databaseType` to `path`.
    public static func write(to path: String, databaseType: String? = nil) throws {
        var spec = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("networks.json"))) as! [String: Any]
        if let databaseType { spec["database_type"] = databaseType }
        let input = path + ".json"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [directory.appendingPathComponent("make-mmdb.pl").path, input, path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "make-mmdb.pl failed (is libmaxmind-db-writer-perl installed? Tools/setup.sh)"])
        }
    }

    public static let probes: [Probe] = {
        let spec = try! JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("networks.json"))) as! [String: Any]
        return (spec["probes"] as! [[String: String]]).map {
            Probe(address: $0["address"]!, country: $0["country"]!, region: $0["region"]!, city: $0["city"]!)
        }
    }()

    /// Gives each session of `events` a location of `probes` (or none), changing between a visitor's sessions
    /// so that a visit's first event decides (docs/QUERIES.md); returns the events and each one's client address.
    public static func locate(_ events: [EventRecord]) -> [(event: EventRecord, address: String)] {
        var sessionsSeen: [String: Int] = [:]
        var placeOfSession: [String: Int] = [:]
        return events.enumerated().map { index, event in
            var event = event
            let key = event.sessionID.isEmpty ? "\(event.visitorID)#\(index / 3)" : event.sessionID
            let place = placeOfSession[key] ?? {
                let n = sessionsSeen[event.visitorID, default: 0]
                sessionsSeen[event.visitorID] = n + 1
                let chosen = (event.visitorID.utf8.reduce(0) { $0 &+ Int($1) } + 3 * n) % probes.count
                placeOfSession[key] = chosen
                return chosen
            }()
            let probe = probes[place]
            event.country = probe.country
            event.region = probe.region
            event.city = probe.city
            return (event, probe.address)
        }
    }
}
