import CMaxMindDB
import ClarmEvents

/// A MaxMind-format database (GeoLite2, DB-IP Lite, …) read through libmaxminddb, memory-mapped: where an
/// address is, as country code, region and city (`EventLocation`). Opening checks all of it, so a damaged
/// file is refused at start rather than answering garbage; lookups only read, from any thread.
public final class GeoIPDatabase: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<MMDB_s>
    /// The metadata's `database_type`, such as `GeoLite2-City` or `DBIP-Country-Lite`.
    public let databaseType: String
    /// 4 or 6: the addresses the database covers (an IPv6 database answers IPv4 addresses too).
    public let ipVersion: Int
    public let nodeCount: Int
    /// The distinct data records the search tree points at (each checked at open).
    public let recordCount: Int

    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens and checks `path`: libmaxminddb's own checks (`MMDB_open`: the metadata, the search tree's size),
    /// a database type that holds locations, and every search-tree node and every record it points at.
    public init(path: String) throws(OpenError) {
        // Before 1.4.3 a crafted database could make the library read past its data (CVE-2020-28241): the
        // check below walks every record through the library, so it must bound its own reads.
        let version = String(cString: MMDB_lib_version())
        guard Self.isSafe(libraryVersion: version) else {
            throw OpenError(description: "--geoip needs libmaxminddb 1.4.3 or later; this one is \(version)")
        }
        handle = .allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            handle.deallocate()
            throw OpenError(description: "--geoip \(path): \(String(cString: MMDB_strerror(status)))")
        }
        let metadata = handle.pointee.metadata
        databaseType = metadata.database_type.map { String(cString: $0) } ?? ""
        ipVersion = Int(metadata.ip_version)
        nodeCount = Int(metadata.node_count)
        do throws(OpenError) {
            guard ipVersion == 4 || ipVersion == 6 else {
                throw OpenError(description: "--geoip \(path): IP version \(ipVersion) in the metadata (4 or 6 expected)")
            }
            guard Self.holdsLocations(databaseType) else {
                throw OpenError(description: "--geoip \(path): database type \"\(databaseType)\" holds no locations; give a City or Country database (GeoLite2-City, DBIP-City-Lite, …)")
            }
            recordCount = try Self.checkTree(handle, path: path)
        } catch {
            MMDB_close(handle)
            handle.deallocate()
            throw error
        }
    }

    deinit {
        MMDB_close(handle)
        handle.deallocate()
    }

    /// Country and city databases of MaxMind and DB-IP (`GeoLite2-City`, `GeoIP2-Country`, `DBIP-City-Lite`,
    /// `GeoIP2-Enterprise`…); not ASN, ISP, domain or anonymity databases, which have no location.
    /// True for libmaxminddb 1.4.3 and later ("1.7.1", "1.10.0"); false for anything that does not read as a version.
    static func isSafe(libraryVersion: String) -> Bool {
        let parts = libraryVersion.split(separator: ".").map { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 3, let major = parts[0], let minor = parts[1], let patch = parts[2] else { return false }
        return (major, minor, patch) >= (1, 4, 3)
    }

    static func holdsLocations(_ type: String) -> Bool {
        let lowered = type.lowercased()
        return ["city", "country", "enterprise"].contains { lowered.contains($0) }
    }

    /// Walks every node of the search tree (each record must be a node, empty, or point into the data section)
    /// and reads the location of every record pointed at, as lookups will; returns how many records there are.
    private static func checkTree(_ handle: UnsafeMutablePointer<MMDB_s>, path: String) throws(OpenError) -> Int {
        var records = Set<UInt32>()
        var node = MMDB_search_node_s()
        var place = clarm_mmdb_place()
        for number in 0..<handle.pointee.metadata.node_count {
            let status = MMDB_read_node(handle, number, &node)
            guard status == MMDB_SUCCESS else {
                throw OpenError(description: "--geoip \(path): search tree node \(number): \(String(cString: MMDB_strerror(status)))")
            }
            for (type, entry) in [(node.left_record_type, node.left_record_entry), (node.right_record_type, node.right_record_entry)] {
                switch Int32(type) {
                case MMDB_RECORD_TYPE_SEARCH_NODE, MMDB_RECORD_TYPE_EMPTY:
                    continue
                case MMDB_RECORD_TYPE_DATA:
                    guard records.insert(entry.offset).inserted else { continue }
                    var entry = entry
                    let status = clarm_mmdb_place_of(&entry, &place)
                    guard status == MMDB_SUCCESS else {
                        throw OpenError(description: "--geoip \(path): record at data offset \(entry.offset): \(String(cString: MMDB_strerror(status)))")
                    }
                default:
                    throw OpenError(description: "--geoip \(path): search tree node \(number) points outside the file")
                }
            }
        }
        return records.count
    }

    /// Where an address is (16 bytes in network order, `high` the first 8; IPv4 as `::ffff:a.b.c.d` with `ipv4`
    /// set). `.unknown` when the database does not know it. The location's bytes are the mapping's: valid while
    /// the database is open.
    public func locate(high: UInt64, low: UInt64, ipv4: Bool) -> EventLocation {
        locate(high: high, low: low, ipv4: ipv4, cache: nil)
    }

    /// `locate`, through one thread's cache of recently found records (`GeoIPLocator`).
    func locate(high: UInt64, low: UInt64, ipv4: Bool, cache: UnsafeMutablePointer<clarm_mmdb_cache>?) -> EventLocation {
        var address: (UInt64, UInt64) = (high.bigEndian, low.bigEndian)
        var place = clarm_mmdb_place()
        let status = withUnsafeBytes(of: &address) { bytes in
            clarm_mmdb_locate(handle, cache, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), ipv4 ? 1 : 0, &place)
        }
        guard status == MMDB_SUCCESS else { return .unknown }
        func text(_ text: clarm_mmdb_text) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: text.bytes, count: Int(text.length))
        }
        return EventLocation(country: text(place.country), region: text(place.region), city: text(place.city))
    }
}
