import Foundation
import Testing

/// What a new user hits and what hostile input breaks (issue 14): each test is one
/// mistake and the message that must come back.
@Suite struct UsabilityTests {
    static let filter = """
        params: { threshold: 100 }
        steps:
          - filter: amount > params.threshold

        """

    @Test func setOfAnUndeclaredParameterIsAnError() throws {
        let dir = try CLI.folder(["p.yaml": Self.filter])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(
            ["run", dir.appendingPathComponent("p.yaml").path, "--set", "treshold=5"], stdin: "{\"amount\":1}\n")
        #expect(r.status == 2)
        #expect(
            r.stderr.contains(
                "cannot set parameter 'treshold': the pipeline declares no such parameter; did you mean 'threshold'?"))
        #expect(r.stdout == "")
    }

    @Test func checkReportsATypoInAParameter() throws {
        let dir = try CLI.folder([
            "p.yaml": Self.filter.replacingOccurrences(of: "params.threshold", with: "params.treshold")
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", dir.appendingPathComponent("p.yaml").path])
        #expect(r.status == 2)
        #expect(
            r.stderr.contains(
                "p.yaml:3:22: error: in expression: unknown parameter 'treshold'; did you mean 'threshold'?"))
    }

    @Test func dlqDashIsRefusedAndCreatesNoFile() throws {
        let dir = try CLI.folder(["p.yaml": "steps: []\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--dlq", "-"], stdin: "{\"a\":1}\n", in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("--dlq -: dead letters go to a file, not stdout"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
    }

    @Test func aHugePipelineFileIsRefused() throws {
        let dir = try CLI.folder([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.yaml")
        var text = "steps: []\n"
        let comment = "# " + String(repeating: "x", count: 1000) + "\n"
        while text.utf8.count <= 5 << 20 { text += comment }
        try text.write(to: path, atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", path.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("larger than the 4194304-byte limit for a pipeline file"))
    }

    // MARK: CLI consistency

    @Test func checkOfAFolderChecksEveryPipelineInIt() throws {
        let dir = try CLI.folder([
            "a.yaml": "steps: []\n",
            "sub/b.yaml": "steps:\n  - fliter: true\n",
            "a.test.yaml": "tests: []\n",
            ".hidden/c.yaml": "nonsense: [\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "."], in: dir)
        #expect(r.status == 2)
        #expect(r.stdout == "ok: ./a.yaml\n")
        #expect(r.stderr.contains("./sub/b.yaml:2:5: error: unknown step 'fliter'; did you mean 'filter'?"))
        #expect(!r.stderr.contains("a.test.yaml"))
        #expect(!r.stderr.contains("hidden"))
        let empty = try CLI.folder([:])
        defer { try? FileManager.default.removeItem(at: empty) }
        let none = try CLI.run(["check", empty.path])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no pipeline files in"))
    }

    @Test func inputExpandsGlobsAsFileDoes() throws {
        let dir = try CLI.folder([
            "p.yaml": "steps: []\n",
            "logs/1.jsonl": "{\"n\":1}\n",
            "logs/2.jsonl": "{\"n\":2}\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--input", "logs/*.jsonl"], in: dir)
        #expect(r.status == 0)
        #expect(r.stdout == "{\"n\":1}\n{\"n\":2}\n")
    }

    @Test func anUnknownCommandGetsASuggestion() throws {
        let r = try CLI.run(["rn", "p.yaml"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("sluice: unknown command 'rn'; did you mean 'run'?"))
        #expect(try CLI.run(["help", "run"]).status == 0)
    }

    @Test func versionFlagPrintsWhatTheDocsShow() throws {
        let flag = try CLI.run(["--version"])
        let command = try CLI.run(["version"])
        #expect(flag.status == 0)
        #expect(flag.stdout.hasPrefix("sluice "))
        #expect(flag.stdout == command.stdout)
    }

    @Test func statsShowEventsDroppedAsInvalid() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            steps:
              - validate: { schema: { required: [id] }, on_invalid: drop }

            """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--stats"], stdin: "{\"id\":1}\n{}\n{}\n", in: dir)
        #expect(r.status == 0)
        let lines = r.stderr.split(separator: "\n")
        let header = try #require(lines.first { $0.hasPrefix("stream") })
        let row = try #require(lines.first { $0.hasPrefix("main") })
        let columns = header.split(separator: " ")
        let cells = row.split(separator: " ")
        let i = try #require(columns.firstIndex(of: "dropped"))
        #expect(cells[i] == "2")
    }

    @Test func aDuplicatePatternNameIsReportedAlongWithTheStepsOtherError() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            time: { field: ts }
            steps:
              - pattern:
                  within: 10s
                  sequence:
                    - { name: a, where: kind == "a" }
                    - { name: a, where: kind == }

            """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "p.yaml"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("duplicate pattern name 'a'"))
        #expect(r.stderr.contains("in expression"))
    }

    // MARK: Dead letters

    @Test func everyDeadLetterSaysWhereItCameFromAndLateEventsAreWrapped() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            time: { field: ts }
            steps:
              - filter: a > 0
              - reorder: {}
              - route: { big: a > 1 }

            """,
            "in.jsonl": """
            {"ts":5000,"a":2}
            {"ts":1000,"a":1}
            nope
            {"ts":6000}
            {"a":1}

            """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", "p.yaml", "--input", "in.jsonl", "--dlq", "dlq.jsonl"], in: dir)
        #expect(r.status == 0)
        let dead = try String(contentsOf: dir.appendingPathComponent("dlq.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(dead.count == 5)
        let malformed = dead.first { $0.hasSuffix(#""raw":"nope"}"#) }
        #expect(malformed?.hasPrefix(#"{"from":"in.malformed","error":{"message":"invalid JSON"#) == true)
        #expect(malformed?.contains(#""line":3"#) == true)
        // An event without an event time: the input line, as docs/errors.md shows.
        #expect(
            dead.contains(
                #"{"from":"in.malformed","error":{"step":"time","message":"no field 'ts' for the event time","line":5},"event":{"a":1}}"#
            ))
        #expect(
            dead.contains(
                #"{"from":"main.rejected","error":{"step":"filter","message":"no such attribute: 'a'","line":4},"event":{"ts":6000}}"#
            ))
        #expect(
            dead.contains(
                #"{"from":"main.late","error":{"message":"late: event time behind the watermark","time":1000,"line":2},"event":{"ts":1000,"a":1}}"#
            ))
        #expect(dead.contains(#"{"from":"main.big","event":{"ts":5000,"a":2}}"#))
    }

    @Test func theSummaryGivesTheReasonsWithTheirFirstLines() throws {
        let dir = try CLI.folder(["p.yaml": "steps:\n  - filter: card > 0\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = (1...1000).map { "{\"id\":\($0)}\n" }.joined() + "{\"card\":\"x\"}\n"
        let r = try CLI.run(["run", "p.yaml"], stdin: input, in: dir)
        #expect(r.status == 0)
        #expect(r.stderr.contains("  main.rejected: 1001 (no such attribute: 'card': 1000, first at line 1; "))
        #expect(r.stderr.contains("first at line 1001)"))
    }

    // MARK: check --sample

    @Test func checkWithASampleReportsStepsThatFailOnEveryEvent() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            steps:
              - filter: amount > 100
              - enrich: { set: { region: eu } }

            """,
            "typo.yaml": """
            steps:
              - filter: ammount > 100

            """,
            "sample.jsonl": """
            {"amount":200,"card":"1"}
            {"amount":300,"card":"2"}
            {"amount":50}

            """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "p.yaml", "typo.yaml", "--sample", "sample.jsonl"], in: dir)
        #expect(r.status == 2)
        #expect(r.stdout == "")
        #expect(
            r.stderr.contains(
                "p.yaml:3:5: error: step 'enrich' failed on every sample event (2 of 2): set region: no such attribute: 'eu'"
            ))
        #expect(
            r.stderr.contains(
                #"p.yaml:3:5: note: no sample event has a field 'eu'; if 'eu' is meant as a string, write it as a CEL string: '"eu"'"#
            ))
        #expect(
            r.stderr.contains(
                "typo.yaml:2:5: error: step 'filter' failed on every sample event (3 of 3): no such attribute: 'ammount'"
            ))
        #expect(r.stderr.contains("typo.yaml:2:5: note: no sample event has a field 'ammount'; did you mean 'amount'?"))
        // Without the sample both compile; the fixed pipeline passes with it.
        #expect(try CLI.run(["check", "p.yaml", "typo.yaml"], in: dir).status == 0)
        let fixed = "steps:\n  - filter: amount > 100\n  - enrich: { set: { region: '\"eu\"' } }\n"
        try fixed.write(to: dir.appendingPathComponent("fixed.yaml"), atomically: true, encoding: .utf8)
        let ok = try CLI.run(["check", "fixed.yaml", "--sample", "sample.jsonl"], in: dir)
        #expect(ok.status == 0)
        #expect(ok.stdout == "ok: fixed.yaml\n")
    }

    @Test func checkWithASampleNeedsTheInputNamedWhenThereAreSeveral() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            inputs: { a: { stdin: {} }, b: { stdin: {} } }
            outputs: { out: { from: [a, b], stdout: {} } }

            """,
            "s.jsonl": "{}\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "p.yaml", "--sample", "s.jsonl"], in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("sluice: p.yaml: the pipeline has 2 inputs (a, b); write --sample NAME=FILE"))
        #expect(try CLI.run(["check", "p.yaml", "--sample", "a=s.jsonl"], in: dir).stdout == "ok: p.yaml\n")
    }
}
