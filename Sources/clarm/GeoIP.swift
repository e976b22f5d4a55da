import ArgumentParser
import ClarmGeoIP
import ClarmServer
import ClarmSystem

struct GeoIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geoip",
        abstract: "Check a --geoip database as clarm serve does at start, and show where addresses are in it; exit 1 if serve would refuse it."
    )

    @Argument(help: "A MaxMind-format City or Country database (.mmdb).")
    var file: String

    @Argument(help: "Addresses to locate, such as 203.0.113.7 or 2001:db8::1.")
    var addresses: [String] = []

    func validate() throws {
        for address in addresses where IPAddress(address) == nil {
            throw ValidationError("\(address) is not an IPv4 or IPv6 address")
        }
    }

    func run() throws {
        let started = monotonicMilliseconds()
        let database: GeoIPDatabase
        do {
            database = try GeoIPDatabase(path: file)
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
        print("\(file): \(database.databaseType), IPv\(database.ipVersion), \(database.nodeCount) nodes, \(database.recordCount) locations, checked in \(monotonicMilliseconds() - started) ms")
        for text in addresses {
            let address = IPAddress(text)!
            let location = database.locate(high: address.high, low: address.low, ipv4: address.isIPv4)
            let parts = [location.country, location.region, location.city].map { String(decoding: $0, as: UTF8.self) }
            print("\(text)\tcountry \(parts[0].isEmpty ? "-" : parts[0])\tregion \(parts[1].isEmpty ? "-" : parts[1])\tcity \(parts[2].isEmpty ? "-" : parts[2])")
        }
    }
}
