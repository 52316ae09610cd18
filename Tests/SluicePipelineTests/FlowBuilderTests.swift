import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import Testing

/// The graph a pipeline and its run options become, one choice per test: the nodes,
/// the partitioners, the edges and where side ports go. Nothing runs.
@Suite struct FlowBuilderTests {
    static func build(_ yaml: String, _ configure: (inout RunOptions) -> Void = { _ in }) throws -> FlowBuilder.Built {
        var options = RunOptions()
        options.sinks["out"] = CollectingSink(name: "out")
        options.sources["in"] = MemorySource(name: "in", items: [])
        configure(&options)
        return try FlowBuilder(pipeline: try compile(yaml), options: options).build()
    }

    static let keyed = """
        inputs: { in: { stdin: {} } }
        streams:
          work:
            from: in
            key: user
            parallelism: 3
            steps:
              - filter: n > 0
        outputs:
          out: { from: [work], stdout: {} }
        """

    @Test func aStreamWithoutAKeyIsOneNodeBetweenItsSourceAndSink() throws {
        let b = try Self.build(
            """
            inputs: { in: { stdin: {} } }
            streams:
              work: { from: in, steps: [ { filter: n > 0 } ] }
            outputs:
              out: { from: [work], stdout: {} }
            """)
        let nodes = b.flow.nodeSummaries
        #expect(nodes.prefix(3) == ["source in", "stream work", "sink out"])
        // source main -> stream, stream main -> sink.
        #expect(b.flow.connections.contains { $0 == (0, SourcePort.main, 1) })
        #expect(b.flow.connections.contains { $0 == (1, Dataflow.mainPort, 2) })
    }

    @Test func aKeyedStreamIsAPartitionerFeedingOneCopyPerPartition() throws {
        let b = try Self.build(Self.keyed)
        let nodes = b.flow.nodeSummaries
        // Stateless steps: the partitioner may deal by load.
        #expect(
            nodes.prefix(5) == [
                "source in", "partition work 3 dealt", "stream work#0", "stream work#1", "stream work#2",
            ])
        for i in 0..<3 { #expect(b.flow.connections.contains { $0 == (1, i, 2 + i) }) }
        #expect(b.flow.connections.contains { $0 == (0, SourcePort.main, 1) })
    }

    @Test func parallelismFromTheOptionsOverridesTheFile() throws {
        let b = try Self.build(Self.keyed) { $0.parallelism = 2 }
        #expect(b.flow.nodeSummaries.contains("partition work 2 dealt"))
        #expect(!b.flow.nodeSummaries.contains("stream work#2"))
        let one = try Self.build(Self.keyed) { $0.parallelism = 1 }
        #expect(one.flow.nodeSummaries.contains("stream work"))
        #expect(!one.flow.nodeSummaries.contains { $0.hasPrefix("partition") })
    }

    @Test func aStatefulStepTurnsDealingOff() throws {
        let b = try Self.build(
            """
            inputs: { in: { stdin: {} } }
            streams:
              work:
                from: in
                key: user
                parallelism: 2
                steps:
                  - dedupe: { key: id, within: 1m }
            outputs:
              out: { from: [work], stdout: {} }
            """)
        #expect(b.flow.nodeSummaries.contains("partition work 2"))
    }

    @Test func unreadSidePortsOfEveryCopyGoToOneDeadLetterSink() throws {
        let b = try Self.build(Self.keyed)
        let nodes = b.flow.nodeSummaries
        #expect(b.deadLetterNames == ["in.malformed", "work.rejected"])
        guard let rejected = nodes.firstIndex(of: "sink work.rejected"),
            let malformed = nodes.firstIndex(of: "sink in.malformed")
        else {
            Issue.record("no dead-letter sinks in \(nodes)")
            return
        }
        #expect(b.flow.connections.contains { $0 == (0, SourcePort.malformed, malformed) })
        let into = b.flow.connections.filter { $0.to == rejected }
        #expect(into.map(\.from).sorted() == [2, 3, 4])
        #expect(into.allSatisfy { $0.port == SidePort.rejected })
    }

    @Test func aSidePortAnOutputReadsGetsNoDeadLetterSink() throws {
        let b = try Self.build(
            """
            inputs: { in: { stdin: {} } }
            streams:
              work: { from: in, steps: [ { validate: { schema: { type: object, required: [n] } } } ] }
            outputs:
              out: { from: [work], stdout: {} }
              bad: { from: [work.rejected], stdout: {} }
            """
        ) { $0.sinks["bad"] = CollectingSink(name: "bad") }
        #expect(!b.deadLetterNames.contains("work.rejected"))
        let nodes = b.flow.nodeSummaries
        guard let bad = nodes.firstIndex(of: "sink bad") else {
            Issue.record("no sink bad in \(nodes)")
            return
        }
        #expect(b.flow.connections.contains { $0 == (1, SidePort.rejected, bad) })
    }

    @Test func tapAllTapsEveryStreamAndSideOutputInsteadOfDeadLettering() throws {
        let b = try Self.build(Self.keyed) { $0.tapAll = true }
        #expect(b.deadLetterNames.isEmpty)
        #expect(Set(b.taps.keys) == ["work", "in.malformed", "work.rejected"])
    }
}
