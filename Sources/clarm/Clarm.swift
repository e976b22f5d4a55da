import ArgumentParser

@main
struct Clarm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clarm",
        abstract: "Clarm: a self-hosted ingestion gateway for web tracking events.",
        subcommands: [Serve.self, Import.self, Verify.self, Inspect.self, Sites.self, Erase.self, Destinations.self, ClickHouse.self, GeoIP.self]
    )
}
