import SluiceKafka
import SluicePipeline
import Testing

/// `kafka:` settings as `sluice check` sees them: no broker needed.
@Suite struct KafkaConfigTests {
    func errors(_ yaml: String) -> [String] {
        do {
            _ = try Pipeline.compile(yaml: yaml, file: "p.yaml")
            return []
        } catch {
            return error.items.map(\.description)
        }
    }

    @Test func aCompleteInputAndOutputCompile() throws {
        let p = try Pipeline.compile(
            yaml: """
                inputs:
                  events: { kafka: { brokers: "127.0.0.1:9092", topics: [orders], group: g, start: earliest,
                                     metadata: kafka, connect_timeout: 2s, client: { session.timeout.ms: 6000 } } }
                streams:
                  main: { from: events, steps: [ { filter: amount > 1 } ] }
                outputs:
                  out: { from: [main], kafka: { brokers: "127.0.0.1:9092", topic: alerts, key: user,
                                                client: { linger.ms: 5 } } }
                """)
        #expect(p.inputNames == ["events"])
        let graph = p.graph(format: .dot)
        #expect(graph.contains("kafka: orders"))
        #expect(graph.contains("kafka: alerts"))
    }

    @Test func missingAndWrongSettingsGiveDiagnosticsWithPlaces() {
        let e = errors(
            """
            inputs:
              events: { kafka: { brokers: "", topics: [], start: newest, colour: red } }
            outputs:
              out: { from: [events], kafka: { brokers: "h:1", key: "user +" } }
            """)
        let text = e.joined(separator: "\n")
        #expect(text.contains("p.yaml:2:"), "\(text)")
        #expect(text.contains("'brokers' needs host:port"), "\(text)")
        #expect(text.contains("'topics' needs at least one topic name"), "\(text)")
        #expect(text.contains("'group'"), "\(text)")
        #expect(text.contains("newest"), "\(text)")
        #expect(text.contains("unknown key 'colour'"), "\(text)")
        #expect(text.contains("p.yaml:4:"), "\(text)")
        #expect(text.contains("'topic'"), "\(text)")
    }

    @Test func aTopicPerEventAndTheRejectedSideOutputOfAKafkaOutput() throws {
        let p = try Pipeline.compile(
            yaml: """
                inputs:
                  events: { file: in.jsonl }
                outputs:
                  out: { from: [events], kafka: { brokers: "h:1", topic: { expr: "'orders-' + region" } } }
                  failed: { from: [out.rejected], file: failed.jsonl }
                """)
        let graph = p.graph(format: .dot)
        #expect(graph.contains("kafka: {expr: 'orders-' + region}"))
        #expect(graph.contains(#"out_out -> out_failed [label="rejected", style=dashed];"#), "\(graph)")
        let e = errors(
            """
            inputs:
              events: { file: in.jsonl }
            outputs:
              out: { from: [events], kafka: { brokers: "h:1", topic: "bad topic" } }
              other: { from: [events], kafka: { brokers: "h:1", topic: { expr: "region +" } } }
              third: { from: [events], kafka: { brokers: "h:1", topic: { exp: region } } }
              good: { from: [events], kafka: { brokers: "h:1", topic: fine.topic_1 } }
              wrong: { from: [good], file: x.jsonl }
              self: { from: [self.rejected], kafka: { brokers: "h:1", topic: t } }
            """)
        let text = e.joined(separator: "\n")
        #expect(
            text.contains("p.yaml:4:58: error: kafka output 'out': 'bad topic' is not a Kafka topic name"), "\(text)")
        #expect(text.contains("p.yaml:5:"), "\(text)")
        #expect(text.contains("p.yaml:6:") && text.contains("unknown key 'exp'"), "\(text)")
        #expect(text.contains("p.yaml:8:19: error: kafka output 'good' can only be read as 'good.rejected'"), "\(text)")
        #expect(text.contains("kafka output 'self' reads its own 'self.rejected'"), "\(text)")
    }

    @Test func headersAreExpressionsCheckedAtCompileTime() {
        let e = errors(
            """
            inputs:
              events: { file: in.jsonl }
            outputs:
              out: { from: [events], kafka: { brokers: "h:1", topic: t, headers: { trace: "a +", "": x, m: { a: 1 } } } }
            """)
        let text = e.joined(separator: "\n")
        #expect(text.contains("p.yaml:4:83: error: in expression"), "\(text)")
        #expect(text.contains("kafka output 'out': a header name is empty"), "\(text)")
        #expect(text.contains("header 'm' of kafka output 'out'"), "\(text)")
    }

    @Test func startAtATimestamp() throws {
        let p = try Pipeline.compile(
            yaml: """
                inputs:
                  events: { kafka: { brokers: "h:1", topics: [t], group: g, start: { timestamp: "2026-12-01T01:00:00+01:00" } } }
                outputs:
                  out: { from: [events], stdout: {} }
                """)
        #expect(p.inputNames == ["events"])
        let e = errors(
            """
            inputs:
              a: { kafka: { brokers: "h:1", topics: [t], group: g, start: { timestamp: "yesterday" } } }
              b: { kafka: { brokers: "h:1", topics: [t], group: g, start: { time: 5 } } }
              c: { kafka: { brokers: "h:1", topics: [t], group: g, start: timestamp } }
            outputs:
              out: { from: [a, b, c], stdout: {} }
            """)
        let text = e.joined(separator: "\n")
        #expect(
            text.contains("p.yaml:2:76: error: kafka input 'a': start timestamp 'yesterday' is not an RFC 3339 time"),
            "\(text)")
        #expect(text.contains("p.yaml:3:") && text.contains("unknown key 'time' in 'start'"), "\(text)")
        #expect(text.contains("p.yaml:4:") && text.contains("timestamp"), "\(text)")
    }

    @Test func theCheckpointPositionRoundTrips() throws {
        let source = KafkaSource(name: "in", spec: KafkaInputSpec(brokers: "h:1", topics: ["t"], group: "g"))
        try source.resume(from: KafkaSource.encode([TopicPartition("t", 0): 5, TopicPartition("t", 3): 70]))
        #expect(source.restored == [TopicPartition("t", 0): 5, TopicPartition("t", 3): 70])
        #expect(throws: (any Error).self) { try source.resume(from: [9, 9]) }
    }

    @Test func idleTimeoutIsADurationAndWarnsWithoutEventTime() throws {
        let e = errors(
            """
            time: { field: ts }
            inputs:
              events: { kafka: { brokers: "h:1", topics: [t], group: g, idle_timeout: soon } }
            outputs:
              out: { from: [events], stdout: {} }
            """)
        #expect(e.joined().contains("p.yaml:3:") && e.joined().contains("invalid duration 'soon'"), "\(e)")
        let zero = errors(
            """
            time: { field: ts }
            inputs:
              events: { kafka: { brokers: "h:1", topics: [t], group: g, idle_timeout: 0s } }
            outputs:
              out: { from: [events], stdout: {} }
            """)
        #expect(zero.joined().contains("must be longer than zero"), "\(zero)")
        let timed = try Pipeline.compile(
            yaml: """
                time: { field: ts }
                inputs:
                  events: { kafka: { brokers: "h:1", topics: [t], group: g, idle_timeout: 1500ms } }
                outputs:
                  out: { from: [events], stdout: {} }
                """)
        guard case .kafka(let spec) = timed.inputs.first?.kind else {
            Issue.record("not a kafka input")
            return
        }
        #expect(spec.idleTimeoutMs == 1500)
        #expect(timed.warnings.items.isEmpty)
        let untimed = try Pipeline.compile(
            yaml: """
                inputs:
                  events: { kafka: { brokers: "h:1", topics: [t], group: g, idle_timeout: 5s } }
                outputs:
                  out: { from: [events], stdout: {} }
                """, file: "p.yaml")
        #expect(
            untimed.warnings.items.map(\.description).contains {
                $0.contains("p.yaml:2:") && $0.contains("'idle_timeout' has no effect without event time")
            }, "\(untimed.warnings.items)")
    }

    @Test func scaleOutMustBeTheOnlyInputAndGivesEachPartitionItsOwnCheckpointsAndFiles() throws {
        let e = errors(
            """
            inputs:
              events: { kafka: { brokers: "h:1", topics: [t], group: g, scale_out: true } }
              more: { file: more.jsonl }
            outputs:
              out: { from: [events, more], stdout: {} }
            """)
        #expect(e.joined().contains("p.yaml:2:") && e.joined().contains("must be the pipeline's only input"), "\(e)")
        #expect(
            errors(
                """
                inputs:
                  events: { kafka: { brokers: "h:1", topics: [t], group: g, scale_out: maybe } }
                outputs:
                  out: { from: [events], stdout: {} }
                """
            ).joined().contains("scale_out"))

        let p = try Pipeline.compile(
            yaml: """
                inputs:
                  events: { kafka: { brokers: "h:1", topics: [t], group: g, scale_out: true } }
                outputs:
                  out: { from: [events], file: out/all.jsonl }
                  raw: { from: [events], file: raw }
                  echo: { from: [events], stdout: {} }
                """)
        #expect(p.scaleOutInput?.name == "events")
        // Without a shared checkpoint directory the state could not move: refused.
        #expect(throws: RunError.self) { try p.scaleOutDirectory(RunOptions()) }
        var options = RunOptions()
        options.checkpointDirectory = "ck"
        options.deadLetterPath = "dlq.jsonl"
        options.outputs = ["raw": "elsewhere/raw.txt"]
        let run = try p.partitionOptions(options, environment: "4242:3:t")
        #expect(run.checkpointDirectory == "ck/partitions/t-3")
        #expect(run.outputs == ["out": "./out/all.t-3.jsonl", "raw": "elsewhere/raw.t-3.txt"])
        #expect(run.deadLetterPath == "dlq.t-3.jsonl")
        #expect(run.kafkaPartition?.partition == TopicPartition("t", 3))
        #expect(run.kafkaPartition?.parent == 4242)
        #expect(run.kafkaPartition?.keysDirectory == "ck/partitions")
        #expect(throws: RunError.self) { try p.partitionOptions(options, environment: "3:t") }
        #expect(
            try Pipeline.compile(
                yaml: """
                    inputs:
                      events: { kafka: { brokers: "h:1", topics: [t], group: g } }
                    outputs:
                      out: { from: [events], stdout: {} }
                    """
            ).scaleOutInput == nil)
    }

    @Test func scaleOutCannotStartAtATimestamp() {
        let text = errors(
            """
            inputs:
              events: { kafka: { brokers: "h:1", topics: [t], group: g, scale_out: true, start: { timestamp: "2026-12-01T00:00:00Z" } } }
            outputs:
              out: { from: [events], file: out.jsonl }
            """
        ).joined(separator: "\n")
        #expect(text.contains("'start: {timestamp: ...}' cannot be used with 'scale_out'"), "\(text)")
    }
}
