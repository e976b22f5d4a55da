import ArgumentParser
import ClarmGeoIP
import ClarmSystem
import Logging

extension Serve {
    /// Opens and checks `--geoip`; nil without it. A file that does not open or check stops the start (exit 1):
    /// the gateway would otherwise store events unlocated without anyone noticing.
    func openGeoIP(_ logger: Logger) throws -> GeoIPDatabase? {
        guard let geoip else { return nil }
        let started = monotonicMilliseconds()
        do {
            let database = try GeoIPDatabase(path: geoip)
            logger.info("--geoip \(geoip): \(database.databaseType), IPv\(database.ipVersion), \(database.recordCount) locations, checked in \(monotonicMilliseconds() - started) ms")
            return database
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}
