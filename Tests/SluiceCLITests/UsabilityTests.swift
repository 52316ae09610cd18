import Foundation
import Testing

/// What a new user hits and what hostile input breaks (issue 14): each test is one
/// mistake and the message that must come back.
@Suite struct UsabilityTests {
    static let filter = """
        params: { threshold: 100 }
        steps:
          - filter: amount > params.threshold

        """

    @Test func setOfAnUndeclaredParameterIsAnError() throws {
        let dir = try CLI.folder(["p.yaml": Self.filter])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", dir.appendingPathComponent("p.yaml").path, "--set", "treshold=5"], stdin: "{\"amount\":1}\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot set parameter 'treshold': the pipeline declares no such parameter; did you mean 'threshold'?"))
        #expect(r.stdout == "")
    }

    @Test func checkReportsATypoInAParameter() throws {
        let dir = try CLI.folder(["p.yaml": Self.filter.replacingOccurrences(of: "params.threshold", with: "params.treshold")])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", dir.appendingPathComponent("p.yaml").path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("p.yaml:3:22: error: in expression: unknown parameter 'treshold'; did you mean 'threshold'?"))
    }

    @Test func dlqDashIsRefusedAndCreatesNoFile() throws {
        let dir = try CLI.folder(["p.yaml": "steps: []\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--dlq", "-"], stdin: "{\"a\":1}\n", in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("--dlq -: dead letters go to a file, not stdout"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
    }

    @Test func aHugePipelineFileIsRefused() throws {
        let dir = try CLI.folder([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.yaml")
        var text = "steps: []\n"
        let comment = "# " + String(repeating: "x", count: 1000) + "\n"
        while text.utf8.count <= 5 << 20 { text += comment }
        try text.write(to: path, atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", path.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("larger than the 4194304-byte limit for a pipeline file"))
    }
}
