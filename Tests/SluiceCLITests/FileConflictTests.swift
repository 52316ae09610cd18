import Foundation
import Testing

/// Two writers to one file, or an output that is an input, are refused before anything
/// is opened for writing: exit 2, a message naming both, and no file truncated.
@Suite struct FileConflictTests {
    static let pipeline = """
        inputs: { in: { stdin: {} } }
        streams: { main: { from: in } }
        outputs:
          a: { from: [main], stdout: {} }
          b: { from: [main], stdout: {} }
        """
    static let data = "{\"n\":1}\n{\"n\":2}\n"

    func folder() throws -> URL {
        try CLI.folder(["p.yaml": Self.pipeline, "s.jsonl": Self.data, "keep.jsonl": "old\n"])
    }

    func text(_ dir: URL, _ name: String) -> String? {
        try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func outputAndDeadLettersOnOneFile() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(
            [
                "run", "p.yaml", "--input", "in=s.jsonl", "--output", "a=keep.jsonl", "--output", "b=-", "--dlq",
                "keep.jsonl",
            ],
            in: dir)
        #expect(r.status == 2)
        #expect(
            r.stderr.contains("output 'a' (keep.jsonl) and --dlq (keep.jsonl) write to the same file"), "\(r.stderr)")
        #expect(text(dir, "keep.jsonl") == "old\n")
        #expect(r.stdout == "")
    }

    @Test func twoOutputsSpelledDifferently() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(
            ["run", "p.yaml", "--input", "in=s.jsonl", "--output", "a=out.jsonl", "--output", "b=./out.jsonl"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("output 'a' (out.jsonl) and output 'b' (./out.jsonl)"), "\(r.stderr)")
        #expect(text(dir, "out.jsonl") == nil, "nothing was created")
    }

    @Test func outputIsTheInput() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(
            ["run", "p.yaml", "--input", "in=s.jsonl", "--output", "a=s.jsonl", "--output", "b=-"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("output 'a' (s.jsonl) is the file that input 'in' (s.jsonl) reads"), "\(r.stderr)")
        #expect(text(dir, "s.jsonl") == Self.data)
    }

    @Test func outputIsTheInputThroughASymlink() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(
            atPath: dir.appendingPathComponent("link.jsonl").path, withDestinationPath: "s.jsonl")
        let r = try CLI.run(
            ["run", "p.yaml", "--input", "in=s.jsonl", "--output", "a=link.jsonl", "--output", "b=-"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("reads"), "\(r.stderr)")
        #expect(text(dir, "s.jsonl") == Self.data)
    }

    /// Standard output redirected into the input file (`>> s.jsonl`) would feed the run
    /// its own output.
    @Test func standardOutputIsTheInput() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["run", "p.yaml", "--input", "in=s.jsonl", "--output", "b=other.jsonl"]
        p.currentDirectoryURL = dir
        let out = try FileHandle(forUpdating: dir.appendingPathComponent("s.jsonl"))
        defer { try? out.close() }
        out.seekToEndOfFile()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 2)
        #expect(text(dir, "s.jsonl") == Self.data)
    }

    /// Outputs that all go to standard output share it, and distinct files are fine.
    @Test func distinctFilesRun() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(
            ["run", "p.yaml", "--input", "in=s.jsonl", "--output", "a=x.jsonl", "--dlq", "d.jsonl"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(text(dir, "x.jsonl") == Self.data)
        #expect(r.stdout == Self.data)
        let both = try CLI.run(["run", "p.yaml", "--input", "in=s.jsonl"], in: dir)
        #expect(both.status == 0)
        #expect(both.stdout.split(separator: "\n").count == 4)
    }
}
