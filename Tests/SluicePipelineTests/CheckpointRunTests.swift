import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import SluiceTestSupport
import Testing

/// Checkpointed runs through the library API: what is refused, what is restored, and
/// that a stop and a restart give what one uninterrupted run gives.
@Suite struct CheckpointRunTests {
    /// A scratch folder with `in.jsonl` of `lines` events (every 500th line malformed).
    static func folder(lines: Int = 20000) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-ckrun-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var text = ""
        for i in 0..<lines {
            text += i % 500 == 7 ? "not json \(i)\n" : "{\"user\":\"u\(i % 41)\",\"n\":\(i)}\n"
        }
        try text.write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        return dir
    }

    static let stateless = """
        inputs: { in: { file: in.jsonl } }
        streams:
          main:
            from: in
            steps:
              - filter: n % 3 != 0
              - enrich: { set: { double: n * 2 } }
        outputs:
          out: { from: [main], file: out.jsonl }
        """

    static func counting(id: String = "counter", key: String = "user", by: String = "user") -> String {
        """
        inputs: { in: { file: in.jsonl } }
        streams:
          main:
            from: in
            key: \(key)
            steps:
              - filter: n % 3 != 0
              - count: \(by)
                id: \(id)
        outputs:
          out: { from: [main], file: out.jsonl }
        """
    }

    struct Result {
        var outcome: RunOutcome
        var out: String
        var dlq: String
    }

    /// Runs `yaml` in `dir` (outputs `out.jsonl`, dead letters `dlq.jsonl`), with
    /// checkpoints in `dir/ckpt` unless `checkpoints` is false; with `stopAfter`, stops
    /// (as SIGTERM does) once that many events were read.
    static func run(
        _ yaml: String, in dir: String, checkpoints: Bool = true, parallelism: Int? = nil, stopAfter: Int? = nil,
        output: String = "out.jsonl", allowNonRestored: Bool = false
    ) throws -> Result {
        let pipeline = try Pipeline.compile(
            yaml: yaml, file: dir + "/p.yaml", baseDirectory: dir, registry: .withCheckpointTestSteps)
        var options = RunOptions()
        options.outputs["out"] = dir + "/" + output
        options.deadLetterPath = dir + "/dlq-" + output
        options.parallelism = parallelism
        options.allowNonRestoredState = allowNonRestored
        if checkpoints {
            options.checkpointDirectory = dir + "/ckpt"
            options.checkpointInterval = 0.02
        }
        let run = try pipeline.start(options)
        if let stopAfter {
            while run.execution.eventsIn.load(ordering: .relaxed) < stopAfter && !run.execution.isCancelled {
                usleep(200)
            }
            run.cancel()
        }
        let outcome = run.wait()
        let out = (try? String(contentsOfFile: dir + "/" + output, encoding: .utf8)) ?? ""
        let dlq = (try? String(contentsOfFile: dir + "/dlq-" + output, encoding: .utf8)) ?? ""
        return Result(outcome: outcome, out: out, dlq: dlq)
    }

    static func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init).sorted() }

    @Test func standardInputIsRefusedWithTheReason() throws {
        let dir = try Self.folder(lines: 10)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = RunOptions()
        options.inputs["in"] = "-"
        options.outputs["out"] = dir + "/out.jsonl"
        options.checkpointDirectory = dir + "/ckpt"
        let p = try Pipeline.compile(yaml: Self.stateless, baseDirectory: dir)
        do {
            _ = try p.start(options)
            Issue.record("stdin was accepted with checkpoints")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains("standard input, which cannot be read again"))
        }
    }

    @Test func aStepThatCannotSaveItsStateIsRefusedByName() throws {
        let dir = try Self.folder(lines: 10)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = Self.stateless.replacingOccurrences(of: "- filter: n % 3 != 0", with: "- opaque: {}")
        do {
            _ = try Self.run(yaml, in: dir)
            Issue.record("a step that cannot save its state was accepted")
        } catch let error as RunError {
            #expect(error.message.contains("step 'main[0].opaque'"))
            #expect(error.message.contains("cannot save in a checkpoint"))
        }
    }

    @Test func aStopSavesACheckpointAndTheRestartFinishesExactly() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = try Self.run(Self.stateless, in: dir, checkpoints: false, output: "ref.jsonl")
        let stopped = try Self.run(Self.stateless, in: dir, stopAfter: 5000)
        #expect(stopped.outcome == .completed)
        #expect(FileManager.default.fileExists(atPath: dir + "/ckpt/lock"))
        let resumed = try Self.run(Self.stateless, in: dir)
        #expect(resumed.outcome == .completed)
        #expect(resumed.out == reference.out)
        #expect(resumed.dlq == reference.dlq)
    }

    @Test func aSeededGeneratorResumesWhereItStopped() throws {
        let dir = try Self.folder(lines: 1)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
            inputs:
              in: { generate: { count: 30000, fields: { id: counter(), user: '"u" + string(random_int(1, 50))' } } }
            streams:
              main: { from: in, steps: [ { count: user } ] }
            outputs:
              out: { from: [main], file: out.jsonl }
            """
        let reference = try Self.run(yaml, in: dir, checkpoints: false, output: "ref.jsonl")
        _ = try Self.run(yaml, in: dir, stopAfter: 8000)
        let resumed = try Self.run(yaml, in: dir)
        #expect(resumed.outcome == .completed)
        #expect(resumed.out == reference.out)
    }

    @Test func twoInputsMergedIntoOneStreamAreAlignedAndResumeExactly() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A second, shorter input: it ends first, and stands for itself in later checkpoints.
        try Data((0..<3000).map { "{\"user\":\"v\($0 % 7)\",\"n\":\($0)}\n" }.joined().utf8).write(
            to: URL(fileURLWithPath: dir + "/other.jsonl"))
        let yaml = """
            inputs: { in: { file: in.jsonl }, other: { file: other.jsonl } }
            streams:
              main:
                from: [in, other]
                steps:
                  - count: user
            outputs:
              out: { from: [main], file: out.jsonl }
            """
        let reference = try Self.run(yaml, in: dir, checkpoints: false, output: "ref.jsonl")
        _ = try Self.run(yaml, in: dir, stopAfter: 9000)
        #expect(FileManager.default.fileExists(atPath: dir + "/ckpt/lock"))
        let resumed = try Self.run(yaml, in: dir)
        #expect(resumed.outcome == .completed)
        // Two inputs interleave as they are read: the same lines, and per user the same
        // counts (each user is in one input only, so its `seen` runs 1, 2, 3, ...).
        #expect(Self.lines(resumed.out) == Self.lines(reference.out))
    }

    @Test func outputWrittenAfterTheCheckpointIsCutBackOnRestore() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = try Self.run(Self.stateless, in: dir, checkpoints: false, output: "ref.jsonl")
        _ = try Self.run(Self.stateless, in: dir, stopAfter: 3000)
        // As if the run had gone on past its checkpoint before dying.
        for f in ["out.jsonl", "dlq-out.jsonl"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/" + f))
            h.seekToEndOfFile()
            h.write(Data("{\"written\":\"after the checkpoint\"}\n".utf8))
            try h.close()
        }
        let resumed = try Self.run(Self.stateless, in: dir)
        #expect(resumed.out == reference.out)
        #expect(resumed.dlq == reference.dlq)
    }

    @Test func keyedStateIsRestoredAndCountsGoOnWhereTheyStopped() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = Self.counting()
        let reference = try Self.run(yaml, in: dir, checkpoints: false, output: "ref.jsonl")
        _ = try Self.run(yaml, in: dir, stopAfter: 7000)
        let resumed = try Self.run(yaml, in: dir)
        #expect(resumed.out == reference.out)
    }

    @Test(arguments: [1, 3])
    func restoringAtAnotherParallelismGivesTheSameOutputs(_ parallelism: Int) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = Self.counting()
        let reference = try Self.run(yaml, in: dir, checkpoints: false, parallelism: 2, output: "ref.jsonl")
        _ = try Self.run(yaml, in: dir, parallelism: 2, stopAfter: 7000)
        let resumed = try Self.run(yaml, in: dir, parallelism: parallelism)
        #expect(resumed.outcome == .completed)
        #expect(Self.lines(resumed.out) == Self.lines(reference.out))
    }

    @Test(arguments: [1, 3])
    func builtInStepsRestoredAtAnotherParallelismGiveTheSameOutputs(_ parallelism: Int) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
            time: { field: n, lateness: 5ms }
            inputs: { in: { file: in.jsonl } }
            streams:
              main:
                from: in
                key: user
                steps:
                  - window: { key: user, session: 20ms, aggregate: { n: count(), total: sum(n) } }
                  - window: { key: user, tumbling: 100ms, aggregate: { sessions: count(), total: sum(total) } }
            outputs:
              out: { from: [main], file: out.jsonl }
            """
        let reference = try Self.run(yaml, in: dir, checkpoints: false, parallelism: 2, output: "ref.jsonl")
        _ = try Self.run(yaml, in: dir, parallelism: 2, stopAfter: 7000)
        let resumed = try Self.run(yaml, in: dir, parallelism: parallelism)
        #expect(resumed.outcome == .completed)
        #expect(!Self.lines(reference.out).isEmpty)
        #expect(Self.lines(resumed.out) == Self.lines(reference.out))
    }

    @Test func stateKeptByAnotherKeyThanTheStreamsCannotBeRescaled() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = Self.counting(key: "user", by: "n")
        _ = try Self.run(yaml, in: dir, parallelism: 2, stopAfter: 3000)
        do {
            _ = try Self.run(yaml, in: dir, parallelism: 3)
            Issue.record("rescaled state kept by another key")
        } catch let error as RunError {
            #expect(error.message.contains("step 'counter'"))
            #expect(error.message.contains("restore at --parallelism 2"))
        }
        // The same parallelism restores copy for copy.
        #expect(try Self.run(yaml, in: dir, parallelism: 2).outcome == .completed)
    }

    @Test func aRemovedStatefulStepIsNamedAndCanBeDroppedOnRequest() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Self.run(Self.counting(id: "old"), in: dir, stopAfter: 3000)
        do {
            _ = try Self.run(Self.counting(id: "new"), in: dir)
            Issue.record("state of a removed step was silently dropped")
        } catch let error as RunError {
            #expect(error.message.contains("step 'old' (count in stream 'main') has state in the checkpoint"))
            #expect(error.message.contains("--allow-non-restored-state"))
        }
        #expect(try Self.run(Self.counting(id: "new"), in: dir, allowNonRestored: true).outcome == .completed)
    }

    @Test func aCheckpointOfAnotherPipelineIsRefusedNamingBothFingerprints() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Self.run(Self.stateless, in: dir, stopAfter: 3000)
        let other = "name: other\n" + Self.stateless
        do {
            _ = try Self.run(other, in: dir)
            Issue.record("another pipeline's checkpoint was accepted")
        } catch let error as RunError {
            let mine = try Pipeline.compile(yaml: other, baseDirectory: dir).fingerprint
            let theirs = try Pipeline.compile(yaml: Self.stateless, baseDirectory: dir).fingerprint
            #expect(error.message.contains(mine) && error.message.contains(theirs))
        }
    }

    @Test func anInputThatChangedSinceTheCheckpointIsRefused() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Self.run(Self.stateless, in: dir, stopAfter: 5000)
        let path = dir + "/in.jsonl"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        // A byte changed near the start.
        var changed = original
        changed[3] = UInt8(ascii: "U")
        try changed.write(to: URL(fileURLWithPath: path))
        do {
            _ = try Self.run(Self.stateless, in: dir)
            Issue.record("a changed input was accepted")
        } catch let error as RunError {
            #expect(error.message.contains("changed since the checkpoint"))
        }
        // Shorter than where the checkpoint had read to.
        try original.prefix(100).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Self.run(Self.stateless, in: dir)
            Issue.record("a truncated input was accepted")
        } catch let error as RunError {
            #expect(error.message.contains("is shorter"))
        }
    }

    @Test func checkpointInThePipelineFileTurnsCheckpointsOn() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = "checkpoint: { dir: state, every: 20ms }\n" + Self.stateless
        let p = try Pipeline.compile(yaml: yaml, file: dir + "/p.yaml", baseDirectory: dir)
        var options = RunOptions()
        options.outputs["out"] = dir + "/out.jsonl"
        #expect(try p.start(options).wait() == .completed)
        // Relative to the pipeline file's folder.
        #expect(FileManager.default.fileExists(atPath: dir + "/state/lock"))
        #expect {
            _ = try Pipeline.compile(yaml: "checkpoint: { every: 1s, dri: x }\n" + Self.stateless)
        } throws: { error in
            "\(error)".contains("dir") && "\(error)".contains("dri")
        }
    }

    @Test func stepIDsMustBeUnique() {
        let yaml = """
            inputs: { in: { stdin: {} } }
            streams:
              main:
                from: in
                steps:
                  - filter: n > 1
                    id: a
                  - filter: n > 2
                    id: a
            outputs:
              out: { from: [main], stdout: {} }
            """
        #expect {
            _ = try Pipeline.compile(yaml: yaml)
        } throws: { error in
            "\(error)".contains("duplicate step id 'a'")
        }
    }
}
