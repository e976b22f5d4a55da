// swift-tools-version:6.1
import PackageDescription

// Data flows top to bottom:
//   ClarmSystem (errno, EINTR, clocks) → ClarmServer and ClarmStorage
//   CClarmLinux → ClarmServer (epoll loop, connections) ← ClarmHTTP (request parser, response writer)
//   CClarmLinux → ClarmStorage (CRC-32C instruction)
//   ClarmJSON (RFC 8259 scanner) → ClarmEvents (event model, validation, record encoding)
//   CMaxMindDB (libmaxminddb) → ClarmGeoIP (where a client address is: country, region, city) → ClarmGateway
//   ClarmRegex (linear-time regular expressions: a Pike VM) → ClarmBots and ClarmQuery
//   ClarmJSON → ClarmBots (crawler user agents: the vendored list, one automaton, linear-time patterns)
//   ClarmMetrics (counters, gauges, histograms on atomics; Prometheus text) → ClarmGateway
//   CLZ4 → ClarmStorage (knows events, nothing of HTTP)
//   ClarmStorage → ClarmQuery (aggregates over segments and memtables)
//   ClarmStorage (change feed), CCurl (libcurl) → ClarmIntegrations (webhook, Slack, HubSpot delivery over HTTP) → ClarmGateway
//   ClarmGateway (routes: HTTP in, events to storage, queries out) → clarm (command line)
//   ClarmHTTP → ClarmHTTPClient (blocking HTTP/1.1 client) → ClarmClickHouse (schema, RowBinary, shipper, SQL queries) → ClarmGateway
//   ClarmQuery → ClarmClickHouse
let package = Package(
    name: "clarm",
    products: [
        .executable(name: "clarm", targets: ["clarm"]),
        .executable(name: "clarm-load", targets: ["clarm-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(name: "CClarmLinux"),
        .target(name: "ClarmSystem"),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .systemLibrary(
            name: "CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),
        .target(name: "ClarmGeoIP", dependencies: ["CMaxMindDB", "ClarmEvents"]),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "ClarmHTTP"),
        .target(name: "ClarmMetrics"),
        .target(
            name: "ClarmServer",
            dependencies: [
                "CClarmLinux", "ClarmSystem", "ClarmHTTP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ClarmJSON"),
        .target(name: "ClarmEvents", dependencies: ["ClarmJSON"]),
        .target(name: "ClarmRegex"),
        .target(name: "ClarmBots", dependencies: ["ClarmJSON", "ClarmRegex"], exclude: ["Assets"], plugins: ["EmbedAssets"]),
        .target(name: "ClarmStorage", dependencies: ["CLZ4", "CClarmLinux", "ClarmSystem", "ClarmJSON", "ClarmEvents", "ClarmMetrics"]),
        .target(
            name: "ClarmQuery", dependencies: ["ClarmSystem", "ClarmJSON", "ClarmEvents", "ClarmStorage", "ClarmRegex"],
            exclude: ["Assets"], plugins: ["EmbedAssets"]
        ),
        .target(name: "ClarmHTTPClient", dependencies: ["ClarmSystem", "ClarmHTTP"]),
        .target(
            name: "ClarmClickHouse",
            dependencies: [
                "ClarmSystem", "ClarmHTTPClient", "ClarmJSON", "ClarmEvents", "ClarmStorage", "ClarmQuery", "ClarmMetrics",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ClarmIntegrations",
            dependencies: [
                "CCurl", "CClarmLinux", "ClarmSystem", "ClarmStorage", "ClarmEvents", "ClarmJSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ClarmGateway",
            dependencies: [
                "ClarmSystem", "ClarmServer", "ClarmHTTP", "ClarmJSON", "ClarmEvents", "ClarmStorage", "ClarmQuery",
                "ClarmBots", "ClarmMetrics", "ClarmIntegrations", "ClarmClickHouse", "ClarmGeoIP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Assets"],
            plugins: ["EmbedAssets"]
        ),
        .executableTarget(
            name: "clarm",
            dependencies: [
                "CClarmLinux", "ClarmGateway", "ClarmServer", "ClarmStorage", "ClarmSystem", "ClarmBots", "ClarmHTTPClient", "ClarmClickHouse",
                "ClarmGeoIP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ClarmTestSupport", dependencies: ["ClarmEvents", "ClarmQuery", "ClarmHTTPClient"], path: "Tests/ClarmTestSupport"),
        .executableTarget(name: "embed-assets", path: "Tools/embed-assets"),
        .plugin(name: "EmbedAssets", capability: .buildTool(), dependencies: ["embed-assets"], path: "Tools/EmbedAssetsPlugin"),
        .executableTarget(
            name: "clarm-load",
            dependencies: [
                "CClarmLinux", "ClarmSystem", "ClarmEvents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Tools/clarm-load"
        ),
        .testTarget(name: "ClarmHTTPTests", dependencies: ["ClarmHTTP", "ClarmTestSupport"]),
        .testTarget(name: "ClarmJSONTests", dependencies: ["ClarmJSON", "ClarmTestSupport"]),
        .testTarget(name: "ClarmEventsTests", dependencies: ["ClarmEvents"]),
        .testTarget(name: "ClarmBotsTests", dependencies: ["ClarmBots", "ClarmJSON"]),
        .testTarget(name: "ClarmRegexTests", dependencies: ["ClarmRegex"]),
        .testTarget(name: "ClarmGeoIPTests", dependencies: ["ClarmGeoIP", "ClarmEvents", "ClarmTestSupport"]),
        .testTarget(name: "ClarmStorageTests", dependencies: ["ClarmStorage", "ClarmTestSupport"]),
        .testTarget(name: "ClarmIntegrationsTests", dependencies: ["ClarmIntegrations", "ClarmStorage", "ClarmEvents", "ClarmTestSupport"]),
        .testTarget(name: "ClarmQueryTests", dependencies: ["ClarmQuery", "ClarmStorage", "ClarmEvents", "ClarmTestSupport", "ClarmClickHouse"]),
        .testTarget(name: "ClarmClickHouseTests", dependencies: ["ClarmClickHouse", "ClarmEvents", "ClarmTestSupport"]),
        .testTarget(
            name: "ClarmGatewayTests",
            dependencies: ["ClarmGateway", "ClarmServer", "ClarmHTTP", "ClarmEvents", "ClarmStorage", "ClarmGeoIP", "ClarmTestSupport", "clarm", "clarm-load"]
        ),
    ]
)

// Micro-benchmarks (package-benchmark) of the hot paths, in Benchmarks/. They are part of the package only when
// CLARM_BENCHMARKS is set, so ordinary builds and CI do not build the benchmark tooling:
//   CLARM_BENCHMARKS=1 swift package --scratch-path .build-benchmarks benchmark
if Context.environment["CLARM_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "ClarmBenchmarks",
            dependencies: [
                "ClarmHTTP", "ClarmJSON", "ClarmEvents", "ClarmStorage", "ClarmQuery", "ClarmBots",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ClarmBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}

// libFuzzer targets (Fuzz/, docs/FUZZING.md). Part of the package only when CLARM_FUZZ is set, because they
// only make sense built with -sanitize=fuzzer,address:
//   Tools/fuzz.sh http 60
if Context.environment["CLARM_FUZZ"] != nil {
    package.targets.append(.target(name: "ClarmFuzzSupport", path: "Fuzz/Support"))
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("http", ["ClarmHTTP"]),
        ("json", ["ClarmJSON"]),
        ("track", ["ClarmEvents", "ClarmJSON"]),
        ("wal", ["ClarmStorage", "ClarmEvents"]),
        ("segment", ["ClarmStorage", "ClarmEvents"]),
    ]
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(name: "fuzz-\(target.name)", dependencies: target.dependencies + ["ClarmFuzzSupport"],
                              path: "Fuzz/Targets/\(target.name)"))
    }
}
