/// Where an event's client was located (`clarm serve --geoip`), as stored after the client's fields:
/// ISO 3166-1 alpha-2 country code, the first subdivision's English name, the city's English name. Each is
/// empty when unknown. The bytes are borrowed (from the GeoIP database's mapping) for one request.
public struct EventLocation {
    public static let fieldCount = 3
    /// Most bytes a country code may have; a longer one is not a code and is stored empty.
    public static let maxCountryLength = 3
    /// Most bytes of a region or city name; a longer one is stored empty rather than cut inside a character.
    public static let maxNameLength = 128

    public let country: UnsafeRawBufferPointer
    public let region: UnsafeRawBufferPointer
    public let city: UnsafeRawBufferPointer

    public static var unknown: EventLocation { EventLocation() }

    /// Values past their limits, or not UTF-8 (a damaged database), become empty.
    public init(country: UnsafeRawBufferPointer = Self.none, region: UnsafeRawBufferPointer = Self.none,
                city: UnsafeRawBufferPointer = Self.none) {
        self.country = Self.checked(country, limit: Self.maxCountryLength)
        self.region = Self.checked(region, limit: Self.maxNameLength)
        self.city = Self.checked(city, limit: Self.maxNameLength)
    }

    private static func checked(_ value: UnsafeRawBufferPointer, limit: Int) -> UnsafeRawBufferPointer {
        guard value.count <= limit else { return none }
        var bytes = value.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&bytes) {
            case .scalarValue: continue
            case .emptyInput: return value
            case .error: return none
            }
        }
    }

    public static var none: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
}
