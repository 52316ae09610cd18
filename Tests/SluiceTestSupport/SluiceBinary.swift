import Foundation

/// The repository and the built `sluice` binary, for tests that run it as a user would.
package enum SluiceBinary {
    /// The repository root (this file is Tests/SluiceTestSupport/SluiceBinary.swift).
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary: next to the test bundle (`.build/debug`), else under the root.
    package static var url: URL {
        let bundle = Bundle.main.bundleURL
        let candidates = [
            bundle.appendingPathComponent("sluice"),
            bundle.deletingLastPathComponent().appendingPathComponent("sluice"),
            root.appendingPathComponent(".build/debug/sluice"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
            ?? candidates[candidates.count - 1]
    }
}
