import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

@Suite struct SagaPipelineTests {
    /// A two-step saga (`reserve`, compensated; `pay`) as a full pipeline, its commands,
    /// log and rejected events in outputs of those names; `STEPS` replaced by `extra`.
    static func pipeline(
        _ sagaExtra: String = "", stepsBefore: String = "", payCommand: String = "{ op: '\"pay\"', id: id }"
    ) -> String {
        """
        time: { field: ts }
        inputs: { in: { stdin: {} } }
        streams:
          main:
            from: in
            key: id
            steps:
        \(stepsBefore)
              - saga:
                  key: id
                  start: kind == "start"
        \(sagaExtra)
                  steps:
                    - name: reserve
                      command: { op: '"reserve"', id: id }
                      success: kind == "reserved"
                      failure: kind == "no_stock"
                      timeout: 10s
                      compensate: { op: '"release"', id: id }
                    - name: pay
                      command: \(payCommand)
                      success: kind == "paid"
                      failure: kind == "declined"
                      timeout: 10s
        outputs:
          commands: { from: [main.commands], stdout: {} }
          log: { from: [main.log], stdout: {} }
          rejected: { from: [main.rejected], stdout: {} }
        """
    }

    static func event(_ kind: String, _ id: String, _ ts: Int64, _ extra: [(String, JSON)] = []) -> InputItem {
        .event(.object(JSONObject([("kind", .string(kind)), ("id", .string(id)), ("ts", .int(ts))] + extra)))
    }

    // MARK: sluice check

    @Test func duplicateStepNamesAreAnError() {
        let d = diagnostics(Self.pipeline().replacingOccurrences(of: "name: pay", with: "name: reserve"))
        #expect(d.contains { $0.contains("error: duplicate saga step name 'reserve'; names must be unique") })
    }

    @Test func aTimeoutThatIsNotPositiveIsAnError() {
        let zero = diagnostics(
            Self.pipeline().replacingOccurrences(
                of: "timeout: 10s\n              compensate", with: "timeout: 0s\n              compensate"))
        #expect(zero.contains { $0.contains("error:") && $0.contains("timeout") }, "\(zero)")
        let negative = diagnostics(
            Self.pipeline().replacingOccurrences(
                of: "timeout: 10s\n              compensate", with: "timeout: -5s\n              compensate"))
        #expect(negative.contains { $0.contains("error:") && $0.contains("timeout") }, "\(negative)")
    }

    @Test func aStepWithoutATimeoutNeedsTheSagaDefault() {
        let yaml = Self.pipeline().replacingOccurrences(
            of: "timeout: 10s\n              compensate", with: "compensate")
        #expect(diagnostics(yaml).contains { $0.contains("saga step 'reserve' has no 'timeout'") })
        #expect(
            (try? compile(
                Self.pipeline("          timeout: 1m").replacingOccurrences(
                    of: "timeout: 10s\n              compensate", with: "compensate"))) != nil)
    }

    @Test func aParallelGroupNeedsTwoSteps() {
        let d = diagnostics(
            """
            time: { field: ts }
            steps:
              - saga:
                  key: id
                  start: kind == "start"
                  timeout: 10s
                  steps:
                    - parallel:
                        - { name: only, command: { op: '"x"' }, success: kind == "done" }
            """)
        #expect(d.contains { $0.contains("a 'parallel' group needs at least two steps") }, "\(d)")
    }

    @Test func aSagaNeedsEventTime() {
        let d = diagnostics(Self.pipeline().replacingOccurrences(of: "time: { field: ts }\n", with: ""))
        #expect(d.contains { $0.contains("'saga' needs event time") })
    }

    static let validate = """
              - validate:
                  schema:
                    type: object
                    properties: { kind: { type: string }, id: { type: string }, ts: { type: integer } }
                    additionalProperties: false
        """

    @Test func aSuccessReadingAFieldTheClosedSchemaLacksIsAnError() {
        let yaml = Self.pipeline(stepsBefore: Self.validate)
            .replacingOccurrences(of: "success: kind == \"paid\"", with: "success: event.status == \"paid\"")
        let d = diagnostics(yaml)
        #expect(
            d.contains {
                $0.contains(
                    "error: the success of saga step 'pay' reads 'status', which the schema of 'validate' does not define; it can never be true"
                )
            }, "\(d)")
        // Fields the schema declares are fine, bare or through `event`.
        #expect(
            (try? compile(
                Self.pipeline(stepsBefore: Self.validate).replacingOccurrences(
                    of: "success: kind == \"paid\"", with: "success: event.kind == \"paid\""))) != nil)
    }

    @Test func anOpenSchemaOnlyWarns() throws {
        let open = Self.validate.replacingOccurrences(of: "\n            additionalProperties: false", with: "")
        let p = try compile(
            Self.pipeline(stepsBefore: open).replacingOccurrences(
                of: "success: kind == \"paid\"", with: "success: status == \"paid\""))
        #expect(
            p.warnings.items.contains {
                $0.description.contains("warning: the success of saga step 'pay' reads 'status'")
            })
    }

    @Test func aStreamWhoseSagaOutputsAreReadIsNotReportedUnread() throws {
        let p = try compile(Self.pipeline())
        #expect(!p.warnings.items.contains { $0.description.contains("is not read") })
    }

    // MARK: sluice graph

    @Test func theGraphShowsTheSagaStepsAndOutputs() throws {
        let g = try compile(Self.pipeline()).graph(format: .mermaid)
        #expect(g.contains(#"s_main_0["saga<br/>1. reserve [undo]<br/>2. pay"]"#), "\(g)")
        #expect(g.contains(#"s_main_0 -. "commands" .-> out_commands"#))
        #expect(g.contains(#"s_main_0 -. "log" .-> out_log"#))
    }

    // MARK: bad input

    @Test func badRepliesGoToRejectedAndTheSagaGoesOn() throws {
        let out = try compile(
            Self.pipeline().replacingOccurrences(
                of: "success: kind == \"paid\"", with: "success: kind == \"paid\" && amount > 0")
        )
        .collect([
            "in": [
                Self.event("start", "a", 0),
                .event(["kind": "reserved", "ts": 1]),  // no key
                Self.event("reserved", "a", 2),
                Self.event("paid", "a", 3),  // no amount: the condition cannot be evaluated
                Self.event("paid", "a", 4, [("amount", .int(5))]),
            ]
        ]).outputs
        let rejected = (out["rejected"] ?? []).map { $0.value["error"]?["message"]?.stringValue ?? "" }
        #expect(rejected.count == 2)
        #expect(rejected.first == "saga: key: no such field 'id'")
        #expect(rejected.last?.hasPrefix("saga: success of step 'pay': ") == true, "\(rejected)")
        #expect(
            (out["log"] ?? []).map { $0.value["event"]?.stringValue ?? "" } == [
                "started", "step_completed", "step_completed", "completed",
            ])
    }

    @Test func aCommandThatFailsFailsItsStepAndCompensates() throws {
        let out = try compile(Self.pipeline(payCommand: "{ op: '\"pay\"', amount: event.amount }"))
            .collect(["in": [Self.event("start", "a", 0), Self.event("reserved", "a", 1)]]).outputs
        let log = (out["log"] ?? []).map { JSONWriter.string($0.value) }
        #expect(log.count == 5)
        #expect(log[2].hasPrefix(#"{"saga":"a","event":"step_failed","step":"pay","reason":"command: "#), "\(log)")
        #expect(log[3] == #"{"saga":"a","event":"compensating","step":"reserve"}"#)
        #expect(log[4].hasPrefix(#"{"saga":"a","event":"failed","step":"pay""#))
        #expect(
            (out["commands"] ?? []).map { JSONWriter.string($0.value) } == [
                #"{"op":"reserve","id":"a"}"#, #"{"op":"release","id":"a"}"#,
            ])
        #expect(out["rejected"]?.isEmpty ?? true)
    }

    // MARK: parallelism

    /// Runs the order-saga example over generated replies at `parallelism`; the log lines.
    func runOrders(dir: String, parallelism: Int) throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let yaml = try String(contentsOf: root.appendingPathComponent("pipelines/order-saga.yaml"), encoding: .utf8)
        var options = RunOptions()
        options.inputs["events"] = dir + "/in.jsonl"
        options.outputs["log"] = dir + "/log\(parallelism).jsonl"
        options.outputs["commands"] = dir + "/commands\(parallelism).jsonl"
        options.outputs["rejected"] = dir + "/rejected\(parallelism).jsonl"
        options.parallelism = parallelism
        let run = try compile(yaml).start(options)
        #expect(run.wait() == .completed)
        let text = try String(contentsOfFile: dir + "/log\(parallelism).jsonl", encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    @Test func theLogAtParallelismTwoIsTheLogAtOne() throws {
        let dir = NSTemporaryDirectory() + "sluice-saga-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 600 orders, a reply every 100 ms: most complete, some are declined, some
        // shipments never answer, some replies come twice.
        var lines: [String] = []
        var t: Int64 = 1_700_000_000_000
        func add(_ kind: String, _ i: Int, _ extra: String = "") {
            t += 100
            lines.append(#"{"type":"\#(kind)","order_id":"o\#(i)"\#(extra),"ts":\#(t)}"#)
        }
        for i in 0..<600 {
            add("order_placed", i, #","amount":\#(i),"items":["sku"]"#)
            add("order_validated", i)
            add("inventory_reserved", i, #","reservation":"r\#(i)""#)
            if i % 7 == 3 {
                add("payment_declined", i)
                continue
            }
            add("payment_charged", i, #","charge":"c\#(i)""#)
            if i % 11 == 5 { continue }  // the shipment never answers
            add("shipment_created", i)
            if i % 5 == 0 { add("shipment_created", i) }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let serial = try runOrders(dir: dir, parallelism: 1)
        let parallel = try runOrders(dir: dir, parallelism: 2)
        #expect(serial.count > 3000)
        #expect(parallel.sorted() == serial.sorted())
        // Each saga's log in the same order.
        func bySaga(_ lines: [String]) -> [String: [String]] {
            var d: [String: [String]] = [:]
            for l in lines {
                guard case .object(let o)? = try? JSONParser.parse(Array(l.utf8)), case .string(let id)? = o["saga"]
                else { continue }
                d[id, default: []].append(l)
            }
            return d
        }
        #expect(bySaga(parallel) == bySaga(serial))
        let ends = serial.filter {
            $0.contains(#""event":"completed""#) || $0.contains(#""event":"failed""#)
                || $0.contains(#""event":"compensation_failed""#)
        }
        #expect(ends.count == 600)
    }
}
