// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
        .executable(name: "sluice", targets: ["SluiceCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // Observability (docs/observability.md): metrics through swift-metrics, exported by
        // swift-prometheus, served with swift-nio's HTTP/1; logs through swift-log.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // The event store's SQLite backend (docs/event-sourcing.md).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The event store's PostgreSQL backend: Debian's libpq, not postgres-nio, whose clean
        // build (with swift-nio) would add minutes to every CI run.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Kafka inputs and outputs (docs/kafka.md): Debian's librdkafka-dev.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // RabbitMQ inputs and outputs (docs/rabbitmq.md), over Debian's librabbitmq (rabbitmq-c).
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // Prefetch hints for the pattern step's hot paths (Swift has no prefetch), and
        // thread names and scheduling policy for stage threads (GNU-only functions).
        .target(name: "CSluiceShims"),
        .target(name: "SluiceJSON", swiftSettings: strict),
        .target(name: "SluiceRegex", swiftSettings: strict),
        .target(name: "SluiceCEL", dependencies: ["SluiceJSON", "SluiceRegex"], swiftSettings: strict),
        .target(name: "SluiceSchema", dependencies: ["SluiceJSON", "SluiceRegex"], swiftSettings: strict),
        .target(
            name: "SluiceCore",
            dependencies: ["CSluiceShims", "SluiceJSON", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceSteps",
            dependencies: ["CSluiceShims", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluiceSchema"],
            swiftSettings: strict
        ),
        .target(name: "SluiceConnectors", dependencies: ["SluiceCore", "SluiceJSON"], swiftSettings: strict),
        .target(
            name: "SluiceRabbitMQ", dependencies: ["CRabbitMQ", "SluiceCore", "SluiceJSON"], swiftSettings: strict),
        .target(
            name: "SluiceStore",
            dependencies: ["CSQLite", "CLibPQ", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluiceSteps"],
            swiftSettings: strict
        ),
        // The `kafka` input and output over librdkafka; no C type leaves it.
        .target(
            name: "SluiceKafka", dependencies: ["CRdKafka", "SluiceCore", "SluiceJSON", "SluiceSteps"],
            swiftSettings: strict),
        .target(
            name: "SluicePipeline",
            dependencies: [
                "CYAML", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluiceSteps", "SluiceConnectors", "SluiceStore",
                "SluiceKafka",
                "SluiceRabbitMQ",
            ],
            swiftSettings: strict
        ),
        // What the tools need beyond the library: `sluice bench` and `sluice test`
        // support and the CLI's wording. The library (`Sluice`) does not depend on it.
        .target(
            name: "SluiceTooling",
            dependencies: [
                "SluicePipeline", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluiceSteps", "SluiceConnectors",
            ],
            swiftSettings: strict
        ),
        // `--metrics`: the HTTP endpoint (/metrics, /healthz, /ready, /tap), its Prometheus
        // export, `sluice top`, `sluice tap`, the progress bar and structured logs.
        .target(
            name: "SluiceObservability",
            dependencies: [
                "SluicePipeline", "SluiceCore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Sluice",
            dependencies: [
                "SluicePipeline", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluiceConnectors", "SluiceSteps",
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SluiceCLI",
            dependencies: [
                "Sluice", "SluiceTooling", "SluiceObservability", "CSluiceShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Shared by the test targets only: where the conformance suites are (or why their
        // tests skip), a seeded random generator, `StepHarness` (drives a step through each
        // of its entry points) and pipeline fixtures.
        .target(
            name: "SluiceTestSupport",
            dependencies: ["SluiceCore", "SluiceJSON", "SluicePipeline", "SluiceSteps", "SluiceTooling"],
            path: "Tests/SluiceTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceJSONTests",
            // SluicePipeline: the conformance files also go through a whole run (reader to writer).
            dependencies: [
                "SluiceJSON", "SluicePipeline", "SluiceTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceRegexTests", dependencies: ["SluiceRegex", "SluiceTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SluiceCELTests",
            dependencies: ["SluiceCEL", "SluiceJSON", "SluiceTestSupport"],
            exclude: ["known-failures.txt"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceSchemaTests", dependencies: ["SluiceSchema", "SluiceJSON", "SluiceTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SluiceStepsTests",
            dependencies: [
                "SluiceSteps", "SluiceCore", "SluiceJSON", "SluiceCEL", "SluicePipeline", "SluiceTestSupport",
                "SluiceTooling",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SluiceJSON"], swiftSettings: strict),
        .testTarget(
            name: "SluicePipelineTests",
            dependencies: [
                "Sluice", "SluicePipeline", "SluiceJSON", "SluiceTooling", "SluiceTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceStoreTests",
            // SluiceCLI: the crash test runs the binary and kills it. SluiceTestSupport: the
            // PostgreSQL server the PostgreSQL tests start.
            dependencies: [
                "SluiceStore", "SluicePipeline", "SluiceTooling", "SluiceJSON", "SluiceCore", "SluiceCLI",
                "SluiceTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceKafkaTests",
            // SluiceCLI: the tests run the binary against a real broker (tansu).
            dependencies: ["SluiceKafka", "SluicePipeline", "SluiceTestSupport", "SluiceJSON", "SluiceCLI"],
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceCLITests", dependencies: ["SluiceCLI", "SluiceTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "SluiceObservabilityTests",
            // SluiceCLI: the endpoint is also tested through the binary (`sluice run --metrics`, `top`, `tap`).
            dependencies: [
                "SluiceObservability", "SluicePipeline", "SluiceCore", "SluiceJSON", "SluiceCLI", "SluiceTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceRabbitMQTests",
            // SluiceCLI: the crash test runs the binary and kills it.
            dependencies: [
                "SluiceRabbitMQ", "SluicePipeline", "SluiceCore", "SluiceJSON", "SluiceCLI", "SluiceTestSupport",
            ],
            swiftSettings: strict
        ),
    ]
)
