import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The real binary, killed with SIGKILL at random moments while it checkpoints, and
/// restarted each time: the final output and dead-letter file are byte-identical to an
/// uninterrupted run (docs/checkpoints.md). Also the lock file, stdin and SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CheckpointKillTests {
    /// Events in the kill tests: 1,000,000 in an optimised build; 200,000 in a debug
    /// build, whose binary is several times slower, so the test stays near a minute.
    static var eventCount: Int {
        #if DEBUG
            return 200_000
        #else
            return 1_000_000
        #endif
    }

    /// Events shaped like Benchmarks/gen_events.py's (deterministic; timestamps 10 ms
    /// apart with up to 1.5 s of disorder), every 997th line not JSON (a dead letter).
    static func events(_ n: Int) -> String {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let types = ["click", "view", "login", "purchase", "logout"]
        let countries = ["US", "DE", "FR", "GB", "JP", "BR"]
        var out = ""
        out.reserveCapacity(n * 100)
        for i in 1...n {
            if i % 997 == 0 {
                out += "{broken \(i)\n"
                continue
            }
            let ts = 1_700_000_000_000 + i * 10 - Int(next() % 1500)
            let amount = Double(next() % 100_000) / 100
            out +=
                "{\"id\":\(i),\"type\":\"\(types[Int(next() % 5)])\",\"user\":\"u\(next() % 1000)\",\"amount\":\(amount),\"country\":\"\(countries[Int(next() % 6)])\",\"ts\":\(ts)}\n"
        }
        return out
    }

    static let stateless = """
        inputs: { in: { file: in.jsonl } }
        streams:
          main:
            from: in
            steps:
              - filter: amount > 10.0
              - enrich: { set: { cents: int(amount * 100.0) } }
        outputs:
          out: { from: [main], file: out.jsonl }
        """

    static let stateful = """
        time: { field: ts, lateness: 2s }
        inputs: { in: { file: in.jsonl } }
        streams:
          ordered:
            from: in
            key: user
            steps:
              - reorder: {}
              - dedupe: { key: id, within: 1m }
          spend:
            from: ordered
            key: user
            steps:
              - window: { key: user, tumbling: 10s, aggregate: { n: count(), total: sum(amount) } }
          sessions:
            from: ordered
            key: user
            steps:
              - window: { key: user, session: { gap: 5s }, aggregate: { n: count() } }
          journeys:
            from: ordered
            key: user
            steps:
              - pattern:
                  key: user
                  within: 30s
                  timeouts: true
                  sequence:
                    - { name: login, where: event.type == "login" }
                    - { name: buy, where: event.type == "purchase" }
                  emit: { user: login.user, at: buy.ts }
        outputs:
          windows: { from: [spend], file: windows.jsonl }
          sessions: { from: [sessions], file: sessions.jsonl }
          journeys: { from: [journeys], file: journeys.jsonl }
        """

    /// Starts `sluice run` in `dir` with `args`; its stderr goes to `err.txt`.
    static func start(_ dir: URL, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["run", "p.yaml"] + args
        p.currentDirectoryURL = dir
        let err = dir.appendingPathComponent("err.txt").path
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: err)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func read(_ dir: URL, _ name: String) -> Data {
        (try? Data(contentsOf: dir.appendingPathComponent(name))) ?? Data()
    }

    /// Runs `pipeline` once without checkpoints, then again with checkpoints every
    /// 50 ms, killed with SIGKILL `kills` times at random moments and restarted each
    /// time until it completes; returns each output file of both runs.
    static func killAndCompare(
        _ pipeline: String, outputs: [String], parallelism: Int, kills: Int = 10
    ) throws -> (reference: [String: Data], recovered: [String: Data], killed: Int) {
        let dir = try CLI.folder(["p.yaml": pipeline])
        defer { try? FileManager.default.removeItem(at: dir) }
        try events(eventCount).write(to: dir.appendingPathComponent("in.jsonl"), atomically: true, encoding: .utf8)
        let common = ["--parallelism", "\(parallelism)", "--dlq", "dlq.jsonl"]
        let began = DispatchTime.now().uptimeNanoseconds
        let reference = try start(dir, common)
        reference.waitUntilExit()
        // The kills land within the first sixth of an uninterrupted run's time each, so a
        // fast machine is killed as often as a slow one (each restart resumes, so a run
        // never gets through more than a sixth before the next kill).
        let whole = max(DispatchTime.now().uptimeNanoseconds - began, 300_000_000) / 1000
        #expect(reference.terminationStatus == 0)
        var want: [String: Data] = [:]
        for name in outputs + ["dlq.jsonl"] {
            want[name] = read(dir, name)
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
        let args = common + ["--checkpoint-dir", "ckpt", "--checkpoint-every", "50ms"]
        var rng = SystemRandomNumberGenerator()
        var killed = 0
        for _ in 0..<kills {
            let p = try start(dir, args)
            // Somewhere between start-up and well into the run.
            usleep(UInt32(clamping: UInt64.random(in: (whole / 20)...(whole / 6), using: &rng)))
            guard p.isRunning else {
                p.waitUntilExit()
                break
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            killed += 1
        }
        let last = try start(dir, args)
        last.waitUntilExit()
        #expect(last.terminationStatus == 0)
        if last.terminationStatus != 0 {
            Issue.record("the last run failed: \(String(decoding: read(dir, "err.txt"), as: UTF8.self))")
        }
        var got: [String: Data] = [:]
        for name in outputs + ["dlq.jsonl"] { got[name] = read(dir, name) }
        return (want, got, killed)
    }

    @Test func aStatelessRunKilledTenTimesWritesExactlyWhatAnUninterruptedOneWrites() throws {
        let (want, got, killed) = try Self.killAndCompare(Self.stateless, outputs: ["out.jsonl"], parallelism: 1)
        #expect(killed >= 3)
        #expect(want["out.jsonl"]?.isEmpty == false)
        #expect(want["dlq.jsonl"]?.isEmpty == false)
        for (name, data) in want { #expect(got[name] == data, "\(name) differs") }
    }

    @Test func aKeyedStatelessRunAtParallelismTwoKilledAndRestartedLosesAndRepeatsNothing() throws {
        let keyed = Self.stateless.replacingOccurrences(of: "    from: in\n", with: "    from: in\n    key: user\n")
        let (want, got, _) = try Self.killAndCompare(keyed, outputs: ["out.jsonl"], parallelism: 2)
        // Two copies write one file in the order they finish batches, so its lines are
        // compared as a multiset; the dead letters (from the source alone) byte for byte.
        func lines(_ d: Data?) -> [Substring] {
            String(decoding: d ?? Data(), as: UTF8.self).split(separator: "\n").sorted()
        }
        #expect(lines(got["out.jsonl"]) == lines(want["out.jsonl"]))
        #expect(got["dlq.jsonl"] == want["dlq.jsonl"])
    }

    @Test
    func aStatefulRunKilledTenTimesWritesExactlyWhatAnUninterruptedOneWrites() throws {
        let outputs = ["windows.jsonl", "sessions.jsonl", "journeys.jsonl"]
        let (want, got, killed) = try Self.killAndCompare(Self.stateful, outputs: outputs, parallelism: 2)
        #expect(killed >= 3)
        // Each output is fed by the copies of one keyed stream: lines as a multiset.
        func lines(_ d: Data?) -> [Substring] {
            String(decoding: d ?? Data(), as: UTF8.self).split(separator: "\n").sorted()
        }
        for name in outputs {
            #expect(!lines(want[name]).isEmpty)
            #expect(lines(got[name]) == lines(want[name]), "\(name) differs")
        }
        // Timeouts and late events of two copies share the dead-letter file too.
        #expect(lines(got["dlq.jsonl"]) == lines(want["dlq.jsonl"]))
    }

    @Test func aSecondRunOnTheSameDirectoryIsRefused() throws {
        let dir = try CLI.folder(["p.yaml": Self.stateless])
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.events(Self.eventCount).write(
            to: dir.appendingPathComponent("in.jsonl"), atomically: true, encoding: .utf8)
        let first = try Self.start(dir, ["--checkpoint-dir", "ckpt"])
        defer {
            if first.isRunning { kill(first.processIdentifier, SIGKILL) }
            first.waitUntilExit()
        }
        // Until the first holds the lock.
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("ckpt/lock").path) {
            usleep(10_000)
        }
        let second = try CLI.run(["run", "p.yaml", "--checkpoint-dir", "ckpt", "--output", "out=other.jsonl"], in: dir)
        guard first.isRunning else { return }  // finished first: nothing to compare with
        #expect(second.status != 0)
        #expect(second.stderr.contains("is in use by another run"))
    }

    @Test func statsAndBenchReportCheckpoints() throws {
        let dir = try CLI.folder([
            "g.yaml": """
            inputs:
              in: { generate: { count: 100000, fields: { user: '"u" + string(random_int(1, 100))', n: 'random_int(1, 1000)' } } }
            streams:
              main: { from: in, steps: [ { filter: n > 10 } ] }
            outputs:
              out: { from: [main], file: out.jsonl }
            """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLI.run(
            ["run", "g.yaml", "--checkpoint-dir", "ckpt", "--checkpoint-every", "20ms", "--stats"], in: dir)
        #expect(run.status == 0)
        let line = run.stderr.split(separator: "\n").first { $0.hasPrefix("checkpoints: ") } ?? ""
        #expect(line.contains("(0 failed), p50 "))
        #expect(!line.hasPrefix("checkpoints: 0 "), "no checkpoint was taken: \(line)")
        let bench = try CLI.run(
            ["bench", "g.yaml", "--events", "50000", "--checkpoint-dir", "bench-ckpt", "--checkpoint-every", "20ms"],
            in: dir)
        #expect(bench.status == 0)
        #expect(bench.stdout.contains("checkpoints: "))
    }

    @Test func standardInputWithCheckpointsIsRefused() throws {
        let dir = try CLI.folder(["p.yaml": "steps: [ { filter: n > 1 } ]\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--checkpoint-dir", "ckpt"], stdin: "{\"n\":2}\n", in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("cannot be read again after a restart"))
    }

    @Test func sigtermSavesACheckpointAndTheRestartCompletesTheOutput() throws {
        let dir = try CLI.folder(["p.yaml": Self.stateless])
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.events(Self.eventCount).write(
            to: dir.appendingPathComponent("in.jsonl"), atomically: true, encoding: .utf8)
        let reference = try Self.start(dir, ["--output", "out=ref.jsonl"])
        reference.waitUntilExit()
        let p = try Self.start(dir, ["--checkpoint-dir", "ckpt"])
        usleep(400_000)
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 128 + SIGTERM)
        let err = String(decoding: Self.read(dir, "err.txt"), as: UTF8.self)
        #expect(err.contains("open state was saved in checkpoint"))
        let again = try Self.start(dir, ["--checkpoint-dir", "ckpt"])
        again.waitUntilExit()
        #expect(again.terminationStatus == 0)
        #expect(Self.read(dir, "out.jsonl") == Self.read(dir, "ref.jsonl"))
    }
}
