import SluicePipeline
import Testing

@Suite struct PipelineGraphTests {
    static let yaml = """
        name: g
        inputs: { events: { stdin: {} } }
        streams:
          clean:
            from: events
            steps:
              - filter: amount > 0
              - route: { big: amount > 100 }
          audit: { from: clean.big }
        outputs:
          out: { from: [clean], stdout: {} }
          big: { from: [audit], file: big.jsonl }
        """

    @Test func mermaidShowsStepsSideOutputsAndDeadLetters() throws {
        let g = try compile(Self.yaml).graph(format: .mermaid)
        #expect(g.hasPrefix("flowchart LR\n"))
        #expect(g.contains(#"in_events[/"events<br/>stdin"/]"#))
        #expect(g.contains("s_clean_0 --> s_clean_1"))
        #expect(g.contains(#"s_clean_1 -. "big" .-> s_audit_pass"#))
        #expect(g.contains(#"s_clean_1 -. "rejected" .-> dead_letters"#))
        #expect(g.contains(#"in_events -. "malformed" .-> dead_letters"#))
        #expect(g.contains("s_audit_pass --> out_big"))
    }

    @Test func dotIsADigraphWithClusters() throws {
        let g = try compile(Self.yaml).graph(format: .dot)
        #expect(g.hasPrefix("digraph \"g\" {"))
        #expect(g.contains(#"subgraph "cluster_clean""#))
        #expect(g.contains(#"s_clean_1 -> s_audit_pass [label="big", style=dashed];"#))
        #expect(g.hasSuffix("}\n"))
    }
}
