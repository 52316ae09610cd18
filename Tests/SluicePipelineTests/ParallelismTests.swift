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

    func input() -> [InputItem] {
        (1...5000).map { i in .event(["user": .string("u\(i % 37)"), "n": .int(Int64(i))]) }
    }

    @Test func partitionsKeepPerKeyOrderAndGiveTheSameMultiset() throws {
        let p = try compile(Self.yaml)
        let parallel = try p.collect(["in": input()]).outputs["out"] ?? []
        let serial = try compile(Self.yaml.replacingOccurrences(of: "parallelism: 4", with: "parallelism: 1"))
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
        let d = diagnostics("""
            inputs: { in: { stdin: {} } }
            streams:
              work: { from: in, parallelism: 2 }
            outputs:
              out: { from: [work], stdout: {} }
            """)
        #expect(d.contains { $0.contains("stream 'work' has 'parallelism' but no 'key'") })
    }

    @Test func sideOutputsOfAllPartitionsAreMerged() throws {
        let p = try compile("""
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
            i % 10 == 0 ? .event(["user": .string("u\(i % 7)")]) : .event(["user": .string("u\(i % 7)"), "n": .int(Int64(i))])
        }
        let out = try p.collect(["in": items]).outputs
        #expect(out["out"]?.count == 270)
        #expect(out["bad"]?.count == 30)
    }
}
