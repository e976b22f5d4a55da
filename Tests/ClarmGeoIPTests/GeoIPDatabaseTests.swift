import Foundation
import Testing
import ClarmEvents
import ClarmTestSupport
@testable import ClarmGeoIP

@Suite struct GeoIPDatabaseTests {
    /// 16 bytes of a textual address, as the gateway holds it (IPv4 mapped into IPv6).
    static func parts(_ text: String) -> (high: UInt64, low: UInt64, ipv4: Bool) {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return (0, 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4.s_addr)), true)
        }
        precondition(inet_pton(AF_INET6, text, &v6) == 1, text)
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        return (bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }, false)
    }

    static func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    static func place(_ database: GeoIPDatabase, _ address: String) -> [String] {
        let (high, low, ipv4) = parts(address)
        let location = database.locate(high: high, low: low, ipv4: ipv4)
        return [text(location.country), text(location.region), text(location.city)]
    }

    @Test func answersEveryProbeOfTheFixture() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        let database = try GeoIPDatabase(path: path)
        #expect(database.databaseType == "Clarm-Test-City")
        #expect(database.ipVersion == 6)
        #expect(database.recordCount == 7)
        for probe in GeoIPFixture.probes {
            #expect(Self.place(database, probe.address) == [probe.country, probe.region, probe.city], "\(probe.address)")
        }
        // Through a loop's cache: the same answers, the first time (a miss) and after (a hit).
        let locator = GeoIPLocator(database)
        for _ in 0..<2 {
            for probe in GeoIPFixture.probes {
                let (high, low, ipv4) = Self.parts(probe.address)
                let location = locator.locate(high: high, low: low, ipv4: ipv4)
                #expect([Self.text(location.country), Self.text(location.region), Self.text(location.city)] == [probe.country, probe.region, probe.city])
            }
        }
    }

    @Test func librariesBeforeTheBoundsFixAreRefused() {
        #expect(GeoIPDatabase.isSafe(libraryVersion: "1.7.1"))
        #expect(GeoIPDatabase.isSafe(libraryVersion: "1.4.3"))
        #expect(GeoIPDatabase.isSafe(libraryVersion: "1.10.0"))
        #expect(GeoIPDatabase.isSafe(libraryVersion: "2.0.0-beta"))
        #expect(!GeoIPDatabase.isSafe(libraryVersion: "1.4.2"))
        #expect(!GeoIPDatabase.isSafe(libraryVersion: "1.3.9"))
        #expect(!GeoIPDatabase.isSafe(libraryVersion: "0.9"))
        #expect(!GeoIPDatabase.isSafe(libraryVersion: ""))
    }

    @Test func refusesWhatIsNotALocationDatabase() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        func refusal(_ path: String) -> String? {
            do {
                _ = try GeoIPDatabase(path: path)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(refusal(directory.path + "/missing.mmdb")?.contains("missing.mmdb") == true)
        try Data("not a database at all".utf8).write(to: URL(fileURLWithPath: directory.path + "/text.mmdb"))
        #expect(refusal(directory.path + "/text.mmdb") != nil)
        try GeoIPFixture.write(to: directory.path + "/asn.mmdb", databaseType: "GeoLite2-ASN")
        #expect(refusal(directory.path + "/asn.mmdb")?.contains("holds no locations") == true)
    }

    /// Every truncation of the file is refused at open: the metadata sits at its end, and a search tree or
    /// data section cut short no longer matches it.
    @Test func refusesEveryTruncation() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = directory.path + "/cut.mmdb"
        for length in 0..<whole.count {
            try whole.prefix(length).write(to: URL(fileURLWithPath: cut))
            #expect(throws: GeoIPDatabase.OpenError.self, "\(length) of \(whole.count) bytes") { _ = try GeoIPDatabase(path: cut) }
        }
    }

    /// Damage anywhere in the file (each byte in turn, set to values that break pointers, sizes and types) is
    /// refused at open or, if the file still opens, every lookup answers without reading outside the mapping.
    @Test func damagedFilesAreRefusedOrAnswerSafely() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let damaged = directory.path + "/damaged.mmdb"
        var opened = 0, refused = 0
        let addresses = GeoIPFixture.probes.map(\.address) + ["0.0.0.0", "255.255.255.255", "::", "ffff::1", "::ffff:203.0.113.7"]
        for offset in 0..<whole.count {
            for value: UInt8 in [0x00, 0xFF, whole[offset] ^ 0x5A] where value != whole[offset] {
                var bytes = whole
                bytes[offset] = value
                try bytes.write(to: URL(fileURLWithPath: damaged))
                guard let database = try? GeoIPDatabase(path: damaged) else {
                    refused += 1
                    continue
                }
                opened += 1
                let locator = GeoIPLocator(database)
                for address in addresses + addresses {
                    let uncached = Self.place(database, address)
                    let (high, low, ipv4) = Self.parts(address)
                    let cached = locator.locate(high: high, low: low, ipv4: ipv4)
                    #expect([Self.text(cached.country), Self.text(cached.region), Self.text(cached.city)] == uncached)
                    #expect(uncached[0].utf8.count <= EventLocation.maxCountryLength)
                    #expect(uncached[1].utf8.count <= EventLocation.maxNameLength && uncached[2].utf8.count <= EventLocation.maxNameLength)
                }
            }
        }
        // Both happen: the check is not so strict it refuses everything, nor so loose it refuses nothing.
        #expect(refused > 0 && opened > 0, "refused \(refused), opened \(opened)")
    }

    /// The cost of a lookup on the event loop, printed (not asserted: the machine is shared).
    @Test func lookupCost() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        let database = try GeoIPDatabase(path: path)
        let locator = GeoIPLocator(database)
        let addresses = GeoIPFixture.probes.map { Self.parts($0.address) }
        let rounds = 200_000
        for cached in [false, true] {
            var found = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<rounds {
                let (high, low, ipv4) = addresses[i % addresses.count]
                found += (cached ? locator.locate(high: high, low: low, ipv4: ipv4) : database.locate(high: high, low: low, ipv4: ipv4)).country.count
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            print("GeoIP lookup, \(cached ? "cached" : "uncached"): \(elapsed / UInt64(rounds)) ns per lookup over \(rounds) lookups (\(found) country bytes)")
            #expect(found > 0)
        }
    }
}
