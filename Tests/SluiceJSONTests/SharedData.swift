import Foundation

/// The folder `../shared` beside the package root (or `SLUICE_SHARED_DIR`), where the
/// conformance suites live; they are read in place, never copied into the project.
func sharedDirectory() -> URL {
    if let env = ProcessInfo.processInfo.environment["SLUICE_SHARED_DIR"], !env.isEmpty {
        return URL(fileURLWithPath: env)
    }
    // Tests/SluiceJSONTests/SharedData.swift -> package root -> ../shared
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared")
}
