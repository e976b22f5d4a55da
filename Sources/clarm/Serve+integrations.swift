import ArgumentParser
import ClarmIntegrations
import ClarmStorage
import Logging

/// Delivery to destinations (`DATA/destinations.json`, README "Integrations").
extension Serve {
    func startIntegrations(store: Store, _ logger: Logger) throws -> Integrations {
        var options = IntegrationOptions()
        options.allowPrivateDestinations = allowPrivateDestinations
        options.requestTimeoutSeconds = destinationTimeout
        options.caFile = destinationCaFile
        if allowPrivateDestinations {
            logger.warning("--allow-private-destinations: destinations may be loopback, private or link-local addresses")
        }
        if let destinationRetryDelays {
            options.retryDelays = destinationRetryDelays.split(separator: ",").compactMap { Double($0) }
        }
        do {
            return try Integrations(directory: data, store: store, options: options) { notice in logger.warning("\(notice)") }
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}
