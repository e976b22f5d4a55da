/// The visitors erased on each site of one shard (GDPR Art. 17): their events are hidden from every answer
/// at once, then purged from the shard's files (`Shard+purge.swift`). Immutable once in a snapshot.
///
/// File `shard-N/erasures` (docs/FORMAT.md, "Erasures"): `"CLER" | count u32 | (site_len u16 | site |
/// visitor_len u16 | visitor) × count | crc32c u32`, all little-endian, rewritten whole on every change.
public struct ErasureSet: Sendable, Equatable {
    public struct Tombstone: Hashable, Sendable {
        public let site: [UInt8]
        public let visitor: [UInt8]

        public init(site: [UInt8], visitor: [UInt8]) {
            self.site = site
            self.visitor = visitor
        }
    }

    static let fileName = "erasures"
    static let magic: [UInt8] = Array("CLER".utf8)

    /// Erased visitor ids by site.
    public private(set) var visitorsBySite: [[UInt8]: Set<[UInt8]>] = [:]
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public var tombstones: [Tombstone] {
        visitorsBySite.flatMap { site, visitors in visitors.map { Tombstone(site: site, visitor: $0) } }
    }

    /// The visitors erased on `site` (empty when none).
    public func visitors(site: [UInt8]) -> Set<[UInt8]> { visitorsBySite[site] ?? [] }

    public func contains(_ tombstone: Tombstone) -> Bool {
        visitorsBySite[tombstone.site]?.contains(tombstone.visitor) ?? false
    }

    /// Whether an event of `visitor` on `site` is erased; costs nothing while no visitor is erased.
    public func contains(site: UnsafeRawBufferPointer, visitor: UnsafeRawBufferPointer) -> Bool {
        if count == 0 { return false }
        guard let visitors = visitorsBySite[Array(site)] else { return false }
        return visitors.contains(Array(visitor))
    }

    public mutating func insert(_ tombstone: Tombstone) {
        if visitorsBySite[tombstone.site, default: []].insert(tombstone.visitor).inserted { count += 1 }
    }

    public mutating func remove(_ tombstone: Tombstone) {
        guard visitorsBySite[tombstone.site]?.remove(tombstone.visitor) != nil else { return }
        count -= 1
        if visitorsBySite[tombstone.site]!.isEmpty { visitorsBySite[tombstone.site] = nil }
    }

    public func encode() -> [UInt8] {
        var out = Self.magic
        withUnsafeBytes(of: UInt32(count).littleEndian) { out.append(contentsOf: $0) }
        for (site, visitors) in visitorsBySite.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            for visitor in visitors.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                for field in [site, visitor] {
                    withUnsafeBytes(of: UInt16(field.count).littleEndian) { out.append(contentsOf: $0) }
                    out += field
                }
            }
        }
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The set of a file image; nil when it is damaged.
    public static func decode(_ bytes: [UInt8]) -> ErasureSet? {
        guard bytes.count >= 12, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { raw -> ErasureSet? in
            let end = bytes.count - 4
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: end, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<end])) == stored else { return nil }
            let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            var offset = 8
            func field() -> [UInt8]? {
                guard offset + 2 <= end else { return nil }
                let length = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                guard offset + 2 + length <= end else { return nil }
                defer { offset += 2 + length }
                return Array(raw[(offset + 2)..<(offset + 2 + length)])
            }
            var set = ErasureSet()
            for _ in 0..<count {
                guard let site = field(), let visitor = field() else { return nil }
                set.insert(Tombstone(site: site, visitor: visitor))
            }
            return offset == end && set.count == count ? set : nil
        }
    }
}
