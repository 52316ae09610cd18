import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

@Suite struct ParallelismTests {
    static let yaml = """
        inputs: { in: { stdin: {} } }
        streams:
          work:
            from: in
            key: user
            parallelism: 4
            steps:
              - filter: n % 3 != 0
              - enrich: { set: { double: n * 2 } }
        outputs:
          out: { from: [work], stdout: {} }
        """

    /// Runs `yaml` on `dir`/in.jsonl at `parallelism`, output `out` to a file; its lines.
    func runToFile(_ yaml: String, dir: String, parallelism: Int) throws -> [String] {
        var options = RunOptions()
        options.inputs["in"] = dir + "/in.jsonl"
        options.outputs["out"] = dir + "/out\(parallelism).jsonl"
        options.parallelism = parallelism
        let run = try compile(yaml).start(options)
        #expect(run.wait() == .completed)
        let text = try String(contentsOfFile: dir + "/out\(parallelism).jsonl", encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    func input() -> [InputItem] {
        (1...5000).map { i in .event(["user": .string("u\(i % 37)"), "n": .int(Int64(i))]) }
    }

    @Test func partitionsKeepPerKeyOrderAndGiveTheSameMultiset() throws {
        let p = try compile(Self.yaml)
        let parallel = try p.collect(["in": input()]).outputs["out"] ?? []
        let serial =
            try compile(Self.yaml.replacingOccurrences(of: "parallelism: 4", with: "parallelism: 1"))
            .collect(["in": input()]).outputs["out"] ?? []
        #expect(parallel.count == serial.count)
        #expect(Set(parallel.map { JSONWriter.string($0.value) }) == Set(serial.map { JSONWriter.string($0.value) }))
        var lastByUser: [String: Int64] = [:]
        for e in parallel {
            guard let u = e.value["user"]?.stringValue, case .int(let n)? = e.value["n"] else { continue }
            #expect((lastByUser[u] ?? 0) < n, "user \(u) out of order")
            lastByUser[u] = n
        }
    }

    @Test func parallelismWithoutAKeyIsAnError() {
        let d = diagnostics(
            """
            inputs: { in: { stdin: {} } }
            streams:
              work: { from: in, parallelism: 2 }
            outputs:
              out: { from: [work], stdout: {} }
            """)
        #expect(d.contains { $0.contains("stream 'work' has 'parallelism' but no 'key'") })
    }

    @Test func sideOutputsOfAllPartitionsAreMerged() throws {
        let p = try compile(
            """
            inputs: { in: { stdin: {} } }
            streams:
              work:
                from: in
                key: user
                parallelism: 3
                steps: [ { filter: "n > 0" } ]
            outputs:
              out: { from: [work], stdout: {} }
              bad: { from: [work.rejected], stdout: {} }
            """)
        let items: [InputItem] = (1...300).map { i in
            i % 10 == 0
                ? .event(["user": .string("u\(i % 7)")]) : .event(["user": .string("u\(i % 7)"), "n": .int(Int64(i))])
        }
        let out = try p.collect(["in": items]).outputs
        #expect(out["out"]?.count == 270)
        #expect(out["bad"]?.count == 30)
    }

    /// Partitions feeding one JSON-lines file encode their events themselves (the
    /// sink only copies bytes); the file holds the same lines as a serial run's, each
    /// user's in order, with the steps' new fields (a double among them) written out.
    @Test func partitionsEncodeForASharedFileSinkAndWriteWhatASerialRunWrites() throws {
        let dir = NSTemporaryDirectory() + "sluice-parallel-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (1...5000).map { i in #"{"user":"u\#(i % 37)","n":\#(i),"x":\#(Double(i) / 8)}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let yaml = Self.yaml.replacingOccurrences(of: "n * 2 }", with: "n * 2, half: x / 2.0, tag: user + \"!\" }")
        let serial = try runToFile(yaml, dir: dir, parallelism: 1)
        let parallel = try runToFile(yaml, dir: dir, parallelism: 4)
        #expect(serial.count == 3334)
        #expect(serial.first == #"{"user":"u1","n":1,"x":0.125,"double":2,"half":0.0625,"tag":"u1!"}"#)
        #expect(parallel.sorted() == serial.sorted())
        // Filter and enrich keep no state, so batches were dealt by load and put back
        // in order: the very same file.
        #expect(parallel == serial)
        var lastByUser: [String: Int64] = [:]
        for line in parallel {
            guard case .object(let o)? = try? JSONParser.parse(Array(line.utf8)), case .string(let u)? = o["user"],
                case .int(let n)? = o["n"]
            else {
                Issue.record("unreadable line \(line)")
                continue
            }
            #expect((lastByUser[u] ?? 0) < n, "user \(u) out of order")
            lastByUser[u] = n
        }
    }

    /// A step with state per key (here `dedupe`) keeps partitioning by key hash: each
    /// key's repeats meet in one partition and are dropped there, whatever the
    /// parallelism, and each key's order is kept.
    @Test func statefulStepsStillPartitionByKey() throws {
        let dir = NSTemporaryDirectory() + "sluice-dedupe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Every id three times, within a second.
        let lines = (0..<3000).map { i in #"{"user":"u\#(i / 3 % 41)","id":\#(i / 3),"ts":\#(1_700_000_000_000 + i)}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let yaml = """
            inputs: { in: { stdin: {} } }
            time: { field: ts, unit: ms, lateness: 1s }
            streams:
              work:
                from: in
                key: user
                parallelism: 3
                steps:
                  - dedupe: { key: id, within: 10s }
            outputs:
              out: { from: [work], stdout: {} }
            """
        let serial = try runToFile(yaml, dir: dir, parallelism: 1)
        let parallel = try runToFile(yaml, dir: dir, parallelism: 3)
        #expect(serial.count == 1000)
        #expect(parallel.sorted() == serial.sorted())
        var last: [String: Int64] = [:]
        for line in parallel {
            guard case .object(let o)? = try? JSONParser.parse(Array(line.utf8)), case .string(let u)? = o["user"],
                case .int(let id)? = o["id"]
            else { continue }
            #expect((last[u] ?? -1) < id, "user \(u) out of order")
            last[u] = id
        }
    }

    /// A key's partition does not depend on how the input spells it: escaped, or with a
    /// character that is canonically equivalent to an ASCII one (KELVIN SIGN for `K`).
    @Test func aKeySpelledTwoWaysStaysInOnePartitionAndInOrder() throws {
        let dir = NSTemporaryDirectory() + "sluice-spelling-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spellings = [(#""K1""#, #""\u212A1""#), (#""ab""#, #""\u0061b""#), (#""zz""#, #""z\u007a""#)]
        var lines: [String] = []
        for n in 1...600 {
            let (a, b) = spellings[(n / 3) % spellings.count]
            lines.append(#"{"user":\#(n % 2 == 0 ? a : b),"n":\#(n)}"#)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        var options = RunOptions()
        options.inputs["in"] = dir + "/in.jsonl"
        options.outputs["out"] = dir + "/out.jsonl"
        let run = try compile(Self.yaml).start(options)
        #expect(run.wait() == .completed)
        let out = try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(out.count == 400)  // the suite's filter keeps n not divisible by 3
        var last: [String: Int64] = [:]
        for line in out {
            guard case .object(let o)? = try? JSONParser.parse(Array(line.utf8)), case .string(let u)? = o["user"],
                case .int(let n)? = o["n"]
            else { continue }
            // Canonically equivalent spellings are one key (and one dictionary key).
            #expect((last[u] ?? 0) < n, "key \(u) out of order at \(n)")
            last[u] = n
        }
        #expect(last.count == 3)
    }
}
