// swift-tools-version: 6.1
// Benchmarks live in their own package so that package-benchmark and its tooling stay
// out of the main build. Run: `swift package benchmark` (from this folder).
import PackageDescription

let package = Package(
    name: "SluiceBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SluiceBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Sluice", package: "main"),
                .product(name: "SluiceJSON", package: "main"),
            ],
            path: "Benchmarks/SluiceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
