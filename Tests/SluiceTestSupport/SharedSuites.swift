import Foundation

/// Where the conformance suites (JSONTestSuite, the JSON Schema Test Suite, cel-spec
/// cases) are found, shared by the test targets that run them.
///
/// They are read in place from `$SLUICE_SHARED_DIR`, or else from the folder `shared`
/// beside the checkout (`../shared`), and never copied into the project. A fresh clone has
/// neither: the tests that need them are then skipped, with one line on stdout saying
/// where they were looked for. With `CI=true` a missing suite is a failure instead, so CI
/// keeps running them.
public enum SharedSuites {
    /// The folder holding `conformance/`.
    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["SLUICE_SHARED_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env).standardizedFileURL
        }
        // Tests/SluiceTestSupport/SharedSuites.swift -> package root -> ../shared
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared").standardizedFileURL
    }

    /// True when `CI` is set to `true` (or `1`): missing suites fail rather than skip.
    public static var requiredByCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
        return value == "true" || value == "1"
    }

    /// Whether the tests that read `relative` (a path under ``directory``) should run:
    /// true when it exists, or when CI requires it (the test then fails in ``url(_:)``
    /// with the reason). Otherwise prints, once per process, where the suites were looked
    /// for, and returns false. For `.enabled(if:)`.
    public static func available(_ relative: String) -> Bool {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(relative).path) { return true }
        if requiredByCI { return true }
        _ = skipNotice
        return false
    }

    /// `relative` under ``directory``; throws ``Missing`` when it is not there.
    public static func url(_ relative: String) throws -> URL {
        let url = directory.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw Missing(path: url.path) }
        return url
    }

    /// A suite is not where it is looked for.
    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "conformance suite not found at \(path)\(requiredByCI ? " (required because CI=true)" : ""); \(SharedSuites.whereToPut)"
        }
    }

    static var whereToPut: String {
        "set SLUICE_SHARED_DIR to the folder that holds conformance/, or put it at ../shared beside the checkout"
    }

    /// Printed the first time a suite is found missing (a lazy global runs once).
    private static let skipNotice: Void = {
        print(
            "Skipping the conformance tests: no suites in \(directory.path) (\(whereToPut)); with CI=true they are required."
        )
    }()
}
