import Foundation
import Testing

/// The `sluice` binary as users meet it: exit codes, stdout, stderr and files.
@Suite struct RunCommandTests {
    static let orders = """
        {"id":1,"amount":120.5,"country":"US"}
        {"id":2,"amount":310,"country":"US"}
        not json
        {"id":3,"country":"US"}
        {"id":4,"amount":1500,"country":"US"}

        """

    @Test func quickstartOverStdin() throws {
        let r = try CLI.run(
            ["run", "pipelines/quickstart.yaml"],
            stdin: """
                {"id":1,"amount":120.5,"country":"US"}
                {"id":2,"amount":310,"country":"US"}
                {"id":4,"amount":1500,"country":"US"}
                {"id":5,"amount":2000.0,"country":"DE"}

                """)
        #expect(r.status == 0)
        #expect(
            r.stdout == """
                {"id":2,"amount":310,"country":"US","big":false}
                {"id":4,"amount":1500,"country":"US","big":true}

                """)
        #expect(r.stderr == "")
    }

    @Test func malformedLinesAreSummarisedAndWrittenToTheDeadLetterFile() throws {
        let dir = try CLI.folder([:])
        let dlq = dir.appendingPathComponent("dlq.jsonl").path
        let r = try CLI.run(["run", "pipelines/quickstart.yaml", "--dlq", dlq], stdin: Self.orders)
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").count == 2)
        #expect(
            r.stderr == """
                sluice: 2 events went to side outputs that nothing reads (written to \(dlq)):
                  in.malformed: 1 (invalid JSON: unexpected 'o' in literal 'null' (column 2): 1, first at line 3)
                  main.rejected: 1 (no such attribute: 'amount': 1, first at line 4)

                """)
        let lines = try String(contentsOfFile: dlq, encoding: .utf8).split(separator: "\n").sorted()
        #expect(lines.count == 2)
        #expect(
            lines.contains {
                $0.hasPrefix(#"{"from":"in.malformed","error":{"message":"invalid JSON"#)
                    && $0.contains(#""line":3},"raw":"not json"}"#)
            })
        #expect(
            lines.contains(
                #"{"from":"main.rejected","error":{"step":"filter","message":"no such attribute: 'amount'","line":4},"event":{"id":3,"country":"US"}}"#
            ))
    }

    @Test func withoutDlqTheSummarySaysHowToKeepThem() throws {
        let r = try CLI.run(["run", "pipelines/quickstart.yaml"], stdin: Self.orders)
        #expect(r.status == 0)
        #expect(
            r.stderr.hasPrefix(
                "sluice: 2 events went to side outputs that nothing reads (not written; pass --dlq FILE to keep them):")
        )
    }

    @Test func aMissingPipelineFileIsOneClearMessage() throws {
        let r = try CLI.run(["run", "nope.yaml"])
        #expect(r.status == 2)
        #expect(r.stdout == "")
        #expect(r.stderr == "error: cannot read 'nope.yaml': No such file or directory\n")
    }

    @Test func aYAMLSyntaxErrorIsLocated() throws {
        let dir = try CLI.folder(["bad.yaml": "steps:\n  - filter: [a\n"])
        let r = try CLI.run(["run", "bad.yaml"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("bad.yaml:"))
        let place = r.stderr.split(separator: ":").prefix(3).dropFirst().map { Int($0) }
        #expect(place.count == 2 && place.allSatisfy { $0 != nil }, "expected bad.yaml:LINE:COL, got \(r.stderr)")
        #expect(r.stderr.contains(": error: "))
    }

    @Test func anUnknownInputNameIsAUsageError() throws {
        let r = try CLI.run(["run", "pipelines/quickstart.yaml", "--input", "nope=x.jsonl"])
        #expect(r.status == 64)
        #expect(r.stderr == "sluice: the pipeline has no input 'nope' (it has: in)\n")
    }

    @Test func anUnreadableInputFileIsARuntimeFailure() throws {
        let r = try CLI.run(["run", "pipelines/quickstart.yaml", "--input", "/nonexistent/orders.jsonl"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/orders.jsonl"))
    }

    @Test func setOverridesAParameter() throws {
        let dir = try CLI.folder(["p.yaml": "params: { min: 10 }\nsteps:\n  - filter: amount > params.min\n"])
        let r = try CLI.run(
            ["run", "p.yaml", "--set", "min=100"], stdin: "{\"amount\":50}\n{\"amount\":150}\n", in: dir)
        #expect(r.status == 0)
        #expect(r.stdout == "{\"amount\":150}\n")
    }
}

@Suite struct CheckCommandTests {
    @Test func goodPipelinesPrintOk() throws {
        let r = try CLI.run([
            "check", "pipelines/quickstart.yaml", "pipelines/fanout.yaml", "pipelines/versioning.yaml",
        ])
        #expect(r.status == 0)
        #expect(r.stdout == "ok: pipelines/quickstart.yaml\nok: pipelines/fanout.yaml\nok: pipelines/versioning.yaml\n")
    }

    @Test func everyErrorIsPrintedWithItsPlace() throws {
        let dir = try CLI.folder(["p.yaml": "steps:\n  - fliter: amount > 1\n  - filter: amount >\noutputz: {}\n"])
        let r = try CLI.run(["check", "p.yaml"], in: dir)
        #expect(r.status == 2)
        #expect(r.stdout == "")
        let errors = r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(errors.count == 3, "\(r.stderr)")
        #expect(errors.first == "p.yaml:2:5: error: unknown step 'fliter'; did you mean 'filter'?")
        #expect(errors.contains { $0.hasPrefix("p.yaml:3:") && $0.contains("in expression") })
        #expect(errors.contains { $0.hasPrefix("p.yaml:4:1: error: unknown key 'outputz'") })
    }
}

@Suite struct TestCommandTests {
    static let pipeline = """
        steps:
          - filter: amount > 10

        """

    @Test func aPassingSuite() throws {
        let r = try CLI.run(["test", "pipelines/quickstart.yaml"])
        #expect(r.status == 0)
        #expect(
            r.stdout == """
                PASS pipelines/quickstart.yaml: big US orders pass and the very big ones are flagged
                PASS pipelines/quickstart.yaml: an order without an amount is rejected, not lost
                2 passed, 0 failed

                """)
    }

    @Test func aFailingSuiteShowsTheDiffAndFails() throws {
        let dir = try CLI.folder([
            "p.yaml": Self.pipeline,
            "p.test.yaml": """
            tests:
              - name: passes
                input: { in: [ {amount: 11} ] }
                expect: { out: [ {amount: 11} ] }
              - name: fails
                input: { in: [ {amount: 11}, {amount: 12} ] }
                expect: { out: [ {amount: 11}, {amount: 13} ] }

            """,
        ])
        let r = try CLI.run(["test", "."], in: dir)
        #expect(r.status == 1)
        #expect(
            r.stdout == """
                PASS ./p.yaml: passes
                FAIL ./p.yaml: fails
                  ./p.test.yaml:7:15: 'out': expected 2 events, got 2
                    --- expected
                    +++ actual
                      {"amount":11}
                    - {"amount":13}
                    + {"amount":12}
                1 passed, 1 failed

                """)
    }

    @Test func aPipelineThatDoesNotCompileFails() throws {
        let dir = try CLI.folder(["p.yaml": "steps:\n  - fliter: x\ntests:\n  - { name: t, expect: {} }\n"])
        let r = try CLI.run(["test", "p.yaml"], in: dir)
        #expect(r.status == 1)
        #expect(
            r.stdout == """
                FAIL p.yaml: pipeline does not compile
                  p.yaml:2:5: error: unknown step 'fliter'; did you mean 'filter'?
                0 passed, 1 failed

                """)
    }

    @Test func anEmptyFolderHasNoTests() throws {
        let dir = try CLI.folder(["untested.yaml": Self.pipeline])
        let r = try CLI.run(["test", "."], in: dir)
        #expect(r.status == 1)
        #expect(r.stdout == "no tests found in .\n0 passed, 0 failed\n")
    }

    @Test func aFileWithoutTestsSaysSo() throws {
        let dir = try CLI.folder(["untested.yaml": Self.pipeline])
        let r = try CLI.run(["test", "untested.yaml"], in: dir)
        #expect(r.status == 1)
        #expect(r.stdout == "no tests found in untested.yaml\n0 passed, 0 failed\n")
    }

    @Test func theExamplePipelinesThatNeedNoPendingStepsPass() throws {
        let r = try CLI.run(["test", "pipelines/quickstart.yaml", "pipelines/fanout.yaml", "pipelines/versioning.yaml"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.hasSuffix("8 passed, 0 failed\n"))
    }
}

@Suite struct CompletionTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsAreGenerated(shell: String) throws {
        let r = try CLI.run(["--generate-completion-script", shell])
        #expect(r.status == 0)
        #expect(r.stdout.contains("sluice"))
        for command in ["run", "check", "test", "version"] {
            #expect(r.stdout.contains(command), "\(shell) completion lacks '\(command)'")
        }
    }

    @Test func versionPrintsTheVersion() throws {
        let r = try CLI.run(["version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("sluice "))
    }
}
