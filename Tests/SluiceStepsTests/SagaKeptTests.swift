import SluiceCEL
import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// A running saga keeps only what its commands can read of its start event and replies
/// (``SagaKept``), and its commands come out as if it kept them whole.
@Suite struct SagaKeptTests {
    /// Two steps; `COMMAND` is the second step's command, `COMP` the first's compensation.
    static func yaml(command: String, compensate: String) -> String {
        """
        time: { field: ts }
        inputs: { in: { stdin: {} } }
        streams:
          main:
            from: in
            steps:
              - saga:
                  key: id
                  start: kind == "start"
                  timeout: 10s
                  steps:
                    - name: reserve
                      command: { op: '"reserve"', id: id }
                      success: kind == "reserved"
                      compensate: \(compensate)
                    - name: pay
                      command: \(command)
                      success: kind == "paid"
                      failure: kind == "declined"
        outputs:
          commands: { from: [main.commands], stdout: {} }
        """
    }

    /// Runs a saga that reserves, then is declined; its commands and the snapshot of the
    /// running saga taken after the reservation.
    func run(command: String, compensate: String) throws -> (commands: [String], saga: JSON) {
        let step = try compileSaga(Self.yaml(command: command, compensate: compensate))
        let h = SagaHarness(step, lateness: 0)
        h.send(
            .object(
                JSONObject([
                    ("kind", .string("start")), ("id", .string("a")), ("amount", .int(5)),
                    ("note", .string("big text")),
                    ("nested", .object(JSONObject([("x", .int(1))]))),
                ])), time: 1)
        h.send(
            .object(
                JSONObject([
                    ("kind", .string("reserved")), ("id", .string("a")), ("slot", .int(7)), ("other", .string("y")),
                ])),
            time: 2)
        var saga = JSON.null
        if case .array(let sagas)? = step.snapshot()["machine"]?["sagas"], let first = sagas.first { saga = first }
        h.send(.object(JSONObject([("kind", .string("declined")), ("id", .string("a"))])), time: 3)
        h.end()
        let commands = h.out.filter { $0.port == step.compiled.commandsPort }.map { JSONWriter.string($0.value) }
        return (commands, saga)
    }

    @Test func onlyTheFieldsCommandsReadAreKept() throws {
        let r = try run(
            command: "{ op: '\"pay\"', amount: amount }",
            compensate: "{ op: '\"release\"', id: id, slot: replies.reserve.slot }")
        #expect(r.saga["data"].map(JSONWriter.string) == #"{"id":"a","amount":5}"#)
        #expect(r.saga["replies"].map(JSONWriter.string) == #"[{"slot":7},null]"#)
        #expect(
            r.commands == [
                #"{"op":"reserve","id":"a"}"#, #"{"op":"pay","amount":5}"#, #"{"op":"release","id":"a","slot":7}"#,
            ])
    }

    @Test func aCommandReadingTheWholeEventOrReplyKeepsItWhole() throws {
        let r = try run(
            command: "{ op: '\"pay\"', all: event }", compensate: "{ op: '\"release\"', r: replies.reserve }")
        #expect(
            r.saga["data"].map(JSONWriter.string)
                == #"{"kind":"start","id":"a","amount":5,"note":"big text","nested":{"x":1},"ts":1}"#)
        #expect(
            r.saga["replies"].map(JSONWriter.string)
                == #"[{"kind":"reserved","id":"a","slot":7,"other":"y","ts":2},null]"#)
        #expect(r.commands.last == #"{"op":"release","r":{"kind":"reserved","id":"a","slot":7,"other":"y","ts":2}}"#)
    }

    @Test func repliesReadOtherwiseThanByNameAreKeptWhole() throws {
        let r = try run(command: "{ op: '\"pay\"', n: size(replies) }", compensate: "{ op: '\"release\"' }")
        #expect(
            r.saga["replies"].map(JSONWriter.string)
                == #"[{"kind":"reserved","id":"a","slot":7,"other":"y","ts":2},null]"#)
        #expect(r.commands[1] == #"{"op":"pay","n":1}"#)
    }

    @Test func aSagaWhoseCommandsReadNoReplyKeepsNone() throws {
        let r = try run(command: "{ op: '\"pay\"' }", compensate: "{ op: '\"release\"', id: id }")
        #expect(r.saga["data"].map(JSONWriter.string) == #"{"id":"a"}"#)
        #expect(r.saga["replies"].map(JSONWriter.string) == #"[null,null]"#)
    }

    @Test func selectionPathsFollowEveryUseOfTheName() {
        #expect(CELSelectionPaths.paths(of: "replies", in: "replies.a.b + x") == [["a", "b"]])
        #expect(
            CELSelectionPaths.paths(of: "replies", in: "has(replies.a.c) ? 1 : size(replies)") == [["a", "c"], []])
        #expect(CELSelectionPaths.paths(of: "replies", in: "replies['a'].b") == [[]])
        #expect(CELSelectionPaths.paths(of: "replies", in: "[1].map(replies, replies.z)") == [[], ["z"]])
        #expect(CELSelectionPaths.paths(of: "replies", in: "(") == nil)
    }
}
