import Foundation
import SluiceTestSupport
import Testing

/// `scale_out: true` against a real broker (tansu): several `sluice run` processes in one
/// group share the partitions, and a partition's window state follows it to whichever
/// process is assigned it. Skips without tansu, fails under `CI=true`.
@Suite(.serialized) struct KafkaScaleOutTests {
    static let client = "client: { session.timeout.ms: 6000, heartbeat.interval.ms: 500 }"

    /// A scratch folder with `p.yaml` holding `yaml`.
    func folder(_ yaml: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-kscale-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: dir.appendingPathComponent("p.yaml"))
        return dir
    }

    /// Starts `sluice ARGS` in `dir` with the broker's environment; stderr goes to `err`.
    func launch(_ args: [String], in dir: URL, _ broker: KafkaBroker, err: String) throws -> Process {
        let p = Process()
        p.executableURL = KafkaBroker.binary
        p.arguments = args
        p.currentDirectoryURL = dir
        p.environment = broker.environment
        p.standardOutput = FileHandle.nullDevice
        let url = dir.appendingPathComponent(err)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: url)
        try p.run()
        return p
    }

    func text(_ url: URL) -> String {
        (try? Data(contentsOf: url)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func lines(_ url: URL) -> [String] { text(url).split(separator: "\n").map(String.init) }

    /// The lines of every `NAME.clicks-P.jsonl` in `dir`.
    func partitionLines(_ dir: URL, _ name: String) -> [String] {
        (0..<4).flatMap { lines(dir.appendingPathComponent("\(name).clicks-\($0).jsonl")) }
    }

    /// The partitions a member's log says it runs now ("running" less "stopped").
    func running(_ log: URL) -> Set<String> {
        var now = Set<String>()
        for l in lines(log) {
            guard let r = l.range(of: "partition clicks-") else { continue }
            let p = String(l[r.upperBound...].prefix { $0.isNumber })
            if l.contains("running partition") {
                now.insert(p)
            } else if l.contains("stopped partition") {
                now.remove(p)
            }
        }
        return now
    }

    /// Waits until `condition` holds, for at most `seconds`.
    func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    func stop(_ p: Process) -> Int32 {
        if p.isRunning { kill(p.processIdentifier, SIGTERM) }
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test func twoProcessesSplitThePartitionsAndAKilledOnesWindowStateMovesToTheSurvivor() throws {
        guard let broker = try KafkaBroker.start() else {
            if KafkaBroker.required { Issue.record("tansu is not installed in .venv (run `make deps`)") }
            return
        }
        defer { broker.stop() }
        try broker.createTopic("clicks", partitions: 4)
        // Users u0..u7, user k on partition k % 4 (the topic is partitioned by the
        // pipeline's key); one click per user every 5 s for 4 minutes, in time order per
        // partition, then one late click per partition that closes them all.
        let t0 = 1_700_000_040_000
        func clicks(_ p: Int, seconds: Range<Int>) -> [(user: String, line: String)] {
            seconds.filter { $0 % 5 == 0 }.flatMap { s in
                [p, p + 4].map { ("u\($0)", #"{"user":"u\#($0)","ts":\#(t0 + s * 1000)}"#) }
            }
        }
        // Each message keyed by its user.
        func produce(_ seconds: Range<Int>, closing: Bool = false) throws {
            for p in 0..<4 {
                var batch = clicks(p, seconds: seconds)
                if closing { batch.append(("z\(p)", #"{"user":"z\#(p)","ts":\#(t0 + 600_000)}"#)) }
                try broker.produce("clicks", batch.map(\.line), partition: p, keys: batch.map(\.user))
            }
        }
        // Phase 1: minute 0 and half of minute 1.
        try produce(0..<90)
        func pipeline(group: String, scaleOut: Bool) -> String {
            """
            time: { field: ts }
            inputs:
              clicks: { kafka: { brokers: "\(broker.address)", topics: [clicks], group: \(group),
                                 \(scaleOut ? "scale_out: true," : "") \(Self.client) } }
            streams:
              counts:
                from: clicks
                steps:
                  - window: { key: user, tumbling: 1m, aggregate: { n: count() } }
            outputs:
              seen: { from: [clicks], file: seen.jsonl }
              out: { from: [counts], file: out.jsonl }
            """
        }
        let dir = try folder(pipeline(group: "scaled", scaleOut: true))
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["run", "p.yaml", "--checkpoint-dir", "ck", "--checkpoint-every", "100ms"]
        let a = try launch(args, in: dir, broker, err: "a.txt")
        let b = try launch(args, in: dir, broker, err: "b.txt")
        defer {
            for p in [a, b] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        let aLog = dir.appendingPathComponent("a.txt")
        let bLog = dir.appendingPathComponent("b.txt")
        func logs() -> String { "a: \(text(aLog))\nb: \(text(bLog))" }

        // Both get partitions, and together they run all four, each once.
        let split = wait(90) {
            let (ra, rb) = (running(aLog), running(bLog))
            return !ra.isEmpty && !rb.isEmpty && ra.isDisjoint(with: rb) && ra.union(rb).count == 4
        }
        #expect(split, "\(logs())")
        let phase1 = 4 * 2 * 18
        #expect(wait(60) { partitionLines(dir, "seen").count == phase1 }, "\(logs())")
        // Let a checkpoint cover it, then kill A without warning: its partitions' processes
        // go with it.
        usleep(1_000_000)
        let aHad = running(aLog)
        kill(a.processIdentifier, SIGKILL)
        a.waitUntilExit()

        // Phase 2a: the rest of minute 1 and minute 2. B is assigned A's partitions and
        // resumes them from their checkpoints, open minute-1 windows included.
        try produce(90..<180)
        #expect(wait(90) { running(bLog).count == 4 }, "\(logs())")
        #expect(wait(60) { partitionLines(dir, "seen").count == 4 * 2 * 36 }, "\(logs())")

        // A comes back and takes some partitions back from B (each with its state), then
        // phase 2b: minute 3 and the closing clicks.
        let a2 = try launch(args, in: dir, broker, err: "a2.txt")
        defer { if a2.isRunning { kill(a2.processIdentifier, SIGKILL) } }
        let a2Log = dir.appendingPathComponent("a2.txt")
        #expect(wait(90) { !running(a2Log).isEmpty && running(a2Log).union(running(bLog)).count == 4 }, "\(logs())")
        try produce(180..<240, closing: true)
        #expect(wait(90) { partitionLines(dir, "out").count >= 32 }, "\(logs())\na2: \(text(a2Log))")
        // The members commit what their partitions' checkpoints cover: all of it, 97
        // messages per partition.
        var committed: [Int] = []
        #expect(
            wait(60) {
                committed = (try? broker.committed(group: "scaled", topic: "clicks", partitions: 4)) ?? []
                return committed == [97, 97, 97, 97]
            }, "\(committed)")
        #expect(stop(a2) == 143, "\(text(a2Log))")
        #expect(stop(b) == 143, "\(text(bLog))")
        #expect(!aHad.isEmpty)
        // Each key on one partition: no warning about keys seen on two.
        #expect(!logs().contains("also seen") && !text(a2Log).contains("also seen"), "\(logs())")

        // Each user's minute counted once, whole: 12 clicks.
        let scaled = partitionLines(dir, "out").sorted()
        #expect(scaled.count == 32, "\(scaled)")
        #expect(scaled.allSatisfy { $0.contains(#""n":12"#) }, "\(scaled)")
        #expect(partitionLines(dir, "seen").count == 4 * 2 * 48 + 4)

        // The same as one process over the same input.
        let single = try folder(pipeline(group: "single", scaleOut: false))
        defer { try? FileManager.default.removeItem(at: single) }
        let one = try launch(["run", "p.yaml"], in: single, broker, err: "err.txt")
        defer { if one.isRunning { kill(one.processIdentifier, SIGKILL) } }
        let out = single.appendingPathComponent("out.jsonl")
        #expect(wait(60) { lines(out).count >= 32 }, "\(text(single.appendingPathComponent("err.txt")))")
        usleep(300_000)
        #expect(stop(one) == 143)
        #expect(lines(out).sorted() == scaled)
    }
}

extension KafkaScaleOutTests {
    @Test func eventsWhoseKeyIsAlsoOnAnotherPartitionAreCountedAndWarnedAbout() throws {
        guard let broker = try KafkaBroker.start() else {
            if KafkaBroker.required { Issue.record("tansu is not installed in .venv (run `make deps`)") }
            return
        }
        defer { broker.stop() }
        try broker.createTopic("clicks", partitions: 2)
        // Key "both" on both partitions (3 events each); the other keys on one.
        func events(_ p: Int) -> [String] { (0..<10).map { #"{"id":"\#(p)-\#($0)"}"# } }
        func keys(_ p: Int) -> [String] { (0..<10).map { $0 < 3 ? "both" : "k\(p)-\($0)" } }
        for p in 0..<2 { try broker.produce("clicks", events(p), partition: p, keys: keys(p)) }
        let dir = try folder(
            """
            inputs:
              clicks: { kafka: { brokers: "\(broker.address)", topics: [clicks], group: k, scale_out: true,
                                 \(Self.client) } }
            outputs:
              seen: { from: [clicks], file: seen.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try launch(["run", "p.yaml", "--checkpoint-dir", "ck"], in: dir, broker, err: "err.txt")
        defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }
        let log = dir.appendingPathComponent("err.txt")
        #expect(wait(60) { partitionLines(dir, "seen").count == 20 }, "\(text(log))")
        // Within a second or two, each partition's process learns the other's keys.
        #expect(wait(30) { text(log).contains("message key was also seen on partition") }, "\(text(log))")
        usleep(2_500_000)
        #expect(stop(run) == 143)
        // At their end, each partition's process says how many of its events had such a
        // key: 3 and 3.
        let counts = lines(log).compactMap { l -> Int? in
            guard let r = l.range(of: #"partition clicks-\d: "#, options: .regularExpression),
                l.contains("had a message key also seen on another partition")
            else { return nil }
            return Int(l[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(counts == [3, 3], "\(text(log))")
    }
}

/// Restoring a checkpoint when some partition stays quiet afterwards.
@Suite(.serialized) struct KafkaQuietPartitionRestoreTests {
    @Test func aPartitionQuietSinceTheRestoreKeepsItsOffsetInLaterCheckpoints() throws {
        let t = KafkaScaleOutTests()
        guard let broker = try KafkaBroker.start() else {
            if KafkaBroker.required { Issue.record("tansu is not installed in .venv (run `make deps`)") }
            return
        }
        defer { broker.stop() }
        try broker.createTopic("quiet", partitions: 2)
        func events(_ ids: Range<Int>) -> [String] { ids.map { #"{"id":\#($0)}"# } }
        try broker.produce("quiet", events(0..<100), partition: 0)
        try broker.produce("quiet", events(100..<200), partition: 1)
        // `start: earliest`: a partition without a checkpointed offset starts at its beginning.
        let dir = try t.folder(
            """
            inputs:
              in: { kafka: { brokers: "\(broker.address)", topics: [quiet], group: q, start: earliest,
                             \(KafkaScaleOutTests.client) } }
            outputs:
              out: { from: [in], file: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        let args = ["run", "p.yaml", "--checkpoint-dir", "ck", "--checkpoint-every", "100ms"]
        let first = try t.launch(args, in: dir, broker, err: "err1.txt")
        #expect(t.wait(60) { t.lines(out).count >= 200 }, "\(t.text(dir.appendingPathComponent("err1.txt")))")
        #expect(t.stop(first) == 143)

        // Restored; only partition 0 gets messages; checkpoints are taken; killed.
        let second = try t.launch(args, in: dir, broker, err: "err2.txt")
        try broker.produce("quiet", events(200..<250), partition: 0)
        #expect(t.wait(60) { t.lines(out).count >= 250 }, "\(t.text(dir.appendingPathComponent("err2.txt")))")
        usleep(1_000_000)
        kill(second.processIdentifier, SIGKILL)
        second.waitUntilExit()

        // Partition 1 resumes where it was, not at its beginning.
        let third = try t.launch(args, in: dir, broker, err: "err3.txt")
        try broker.produce("quiet", events(250..<260), partition: 1)
        #expect(t.wait(60) { t.lines(out).count >= 260 }, "\(t.text(dir.appendingPathComponent("err3.txt")))")
        usleep(1_000_000)
        #expect(t.stop(third) == 143)
        let ids = t.lines(out).compactMap(KafkaBrokerTests.id)
        #expect(ids.count == 260)
        #expect(Set(ids) == Set(0..<260))
    }
}
