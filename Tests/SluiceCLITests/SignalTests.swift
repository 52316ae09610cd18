import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGINT and SIGTERM stop `sluice run` gracefully: no more input is read, what was read
/// is written, outputs are flushed, the summary is printed, exit 130 or 143; open windows
/// are not fired. A second signal exits at once. Run against the real binary, reading a
/// FIFO whose writer stays open (an endless input).
@Suite(.timeLimit(.minutes(1))) struct SignalTests {
    static let pipeline = """
        inputs: { in: { stdin: {} } }
        streams:
          pass: { from: in }
          counts:
            from: in
            steps:
              - window: { tumbling: 1h, aggregate: { n: count() } }
        outputs:
          out: { from: [pass], stdout: {} }
          windows: { from: [counts], file: windows.jsonl }
        """

    /// A running `sluice run` reading a FIFO that this test writes and keeps open.
    struct Running {
        let process: Process
        let dir: URL
        let writer: Int32
        var stdoutPath: String { dir.appendingPathComponent("out.jsonl").path }
        var stderrPath: String { dir.appendingPathComponent("err.txt").path }

        init(lines: [String], pipeline: String = SignalTests.pipeline, stdout: FileHandle? = nil) throws {
            let dir = try CLI.folder(["p.yaml": pipeline])
            self.dir = dir
            let fifo = dir.appendingPathComponent("fifo").path
            guard mkfifo(fifo, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown) }
            // Read-write, so that opening does not wait for a reader (Linux allows it).
            let writer = open(fifo, O_RDWR)
            self.writer = writer
            let process = Process()
            self.process = process
            process.executableURL = CLI.binary
            process.arguments = ["run", "p.yaml"]
            process.currentDirectoryURL = dir
            process.standardInput = FileHandle(forReadingAtPath: fifo)
            let outPath = dir.appendingPathComponent("out.jsonl").path
            let errPath = dir.appendingPathComponent("err.txt").path
            _ = FileManager.default.createFile(atPath: outPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            process.standardOutput = stdout ?? FileHandle(forWritingAtPath: outPath)
            process.standardError = FileHandle(forWritingAtPath: errPath)
            try process.run()
            // Written from another thread: a FIFO holds 64 KiB, and the run reads it.
            let text = lines.map { $0 + "\n" }.joined()
            Thread.detachNewThread {
                _ = text.withCString { write(writer, $0, strlen($0)) }
            }
        }

        /// Waits until standard output has `count` lines (the run has read and written them).
        func waitForLines(_ count: Int) throws {
            for _ in 0..<2000 {
                let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
                if text.split(separator: "\n").count >= count { return }
                usleep(10_000)
            }
            Issue.record("the run did not write \(count) lines")
        }

        /// Waits for the run to exit (killing it after 30 s, so a hang fails the test
        /// instead of blocking the suite).
        func finish() -> (status: Int32, stdout: String, stderr: String) {
            var waited = 0
            while process.isRunning && waited < 3000 {
                usleep(10_000)
                waited += 1
            }
            if process.isRunning {
                Issue.record("the run did not stop")
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            close(writer)
            let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            return (process.terminationStatus, out, err)
        }

        func windows() -> String? {
            try? String(contentsOf: dir.appendingPathComponent("windows.jsonl"), encoding: .utf8)
        }
    }

    static let lines = (1...5).map { "{\"i\":\($0)}" }

    @Test(arguments: ["SIGTERM", "SIGINT"])
    func firstSignalStopsGracefully(_ name: String) throws {
        let (signal, status) = name == "SIGTERM" ? (SIGTERM, Int32(143)) : (SIGINT, Int32(130))
        let run = try Running(lines: Self.lines)
        defer { try? FileManager.default.removeItem(at: run.dir) }
        try run.waitForLines(5)
        kill(run.process.processIdentifier, signal)
        let r = run.finish()
        #expect(r.status == status)
        #expect(r.stderr.contains("stopped by \(name) after reading 5 events"), "\(r.stderr)")
        #expect(r.stderr.contains("open windows were not fired"))
        // Every line complete, none lost.
        #expect(r.stdout == Self.lines.map { $0 + "\n" }.joined())
        // The hour-long window holding the five events was open: not fired.
        #expect(run.windows() == "")
    }

    /// Without a signal, the end of input fires the open window: the test above is
    /// about the stop, not about a window that would never fire.
    @Test func theEndOfInputFiresTheWindow() throws {
        let dir = try CLI.folder(["p.yaml": Self.pipeline])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml"], stdin: Self.lines.map { $0 + "\n" }.joined(), in: dir)
        #expect(r.status == 0)
        let windows = try String(contentsOf: dir.appendingPathComponent("windows.jsonl"), encoding: .utf8)
        #expect(windows.contains("\"n\":5"))
    }

    /// A run that cannot finish (its output is a pipe nobody reads) exits at once on a
    /// second signal.
    @Test func secondSignalExitsAtOnce() throws {
        let pipe = Pipe()
        // A big stream of events: the unread pipe fills and the output blocks.
        let big = (1...20_000).map { "{\"i\":\($0),\"pad\":\"\(String(repeating: "x", count: 100))\"}" }
        let run = try Running(lines: big, stdout: pipe.fileHandleForWriting)
        defer { try? FileManager.default.removeItem(at: run.dir) }
        try? pipe.fileHandleForWriting.close()
        usleep(500_000)
        kill(run.process.processIdentifier, SIGTERM)
        usleep(300_000)
        #expect(run.process.isRunning, "the first signal waits for the output")
        kill(run.process.processIdentifier, SIGTERM)
        let r = run.finish()
        #expect(r.status == 143)
        try? pipe.fileHandleForReading.close()
    }
}
