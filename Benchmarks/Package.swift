// swift-tools-version: 6.1
// Benchmarks live in their own package so that package-benchmark and its tooling stay
// out of the main build. Run: `swift package benchmark` (from this folder).
import PackageDescription

let package = Package(
    name: "SluiceBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, so that `package:` below does not depend on the folder the repository
        // was cloned into (a path dependency is otherwise known by its folder name).
        .package(name: "Sluice", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The events and stage driver both executables run (Fixtures/).
        .target(
            name: "BenchmarkFixtures",
            dependencies: [.product(name: "Sluice", package: "Sluice")],
            path: "Fixtures"
        ),
        .executableTarget(
            name: "CallgrindDriver",
            dependencies: ["BenchmarkFixtures", .product(name: "Sluice", package: "Sluice")],
            // Not under a folder named Benchmarks: package-benchmark runs every executable
            // target there as a benchmark.
            path: "Tools/CallgrindDriver"
        ),
        .executableTarget(
            name: "SluiceBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                "BenchmarkFixtures",
                // Internals come through the façade under SPI (`@_spi(Benchmarks) import Sluice`).
                .product(name: "Sluice", package: "Sluice"),
            ],
            path: "Benchmarks/SluiceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
