import PropertyBased
import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// The conditions decided on arrival from one read of a field (``SagaStep/Discriminator``)
/// against the same conditions evaluated through CEL when the machine asks for them.
@Suite struct SagaDiscriminatorTests {
    /// `saga` with every step's conditions a single `kind == "..."` test, so that the
    /// discriminator decides them all.
    static func yaml(_ saga: RandomSaga) -> String {
        saga.pipeline(reply: { "kind == \"\($0)_\($1)\"" }, awaitedReads: ", got: replies")
    }

    /// The generated events with `kind` and `step` folded into one `kind` (`ok_s1`), and
    /// some made bad: no `kind`, a number for `kind`, no `id`.
    static func events(_ saga: RandomSaga, _ runs: [SagaRun]) -> [(time: Int64, value: JSON)] {
        saga.events(runs).enumerated().map { i, e in
            guard case .object(var o) = e.value, case .string(let kind)? = o["kind"] else { return e }
            if case .string(let s)? = o["step"] {
                o["kind"] = .string("\(kind)_\(s)")
                o["step"] = nil
            }
            switch i % 23 {
            case 5: o["kind"] = nil
            case 11: o["kind"] = .int(7)
            case 17: o["id"] = nil
            default: break
            }
            return (e.time, .object(o))
        }
    }

    @Test func conditionsDecidedOnArrivalGiveWhatCELGives() async {
        await propertyCheck(count: 150, input: RandomSaga.generator, SagaRun.generator) { saga, runs in
            let yaml = Self.yaml(saga)
            guard let fast = try? compileSaga(yaml), let general = try? compileSaga(yaml) else {
                Issue.record("does not compile:\n\(yaml)")
                return
            }
            #expect(fast.discriminator != nil)
            general.discriminator = nil
            let events = Self.events(saga, runs)
            let a = SagaHarness(fast, lateness: Int64(saga.lateness) * 1000)
            let b = SagaHarness(general, lateness: Int64(saga.lateness) * 1000)
            for e in events {
                a.send(e.value, time: e.time)
                b.send(e.value, time: e.time)
            }
            a.end()
            b.end()
            #expect(a.out.count == b.out.count)
            #expect(
                a.out.map { "\($0.port) \(JSONWriter.string($0.value))" }
                    == b.out.map { "\($0.port) \(JSONWriter.string($0.value))" })
        }
    }

    /// The shapes it takes and leaves: one field against ASCII strings, the start first.
    @Test func whatTheDiscriminatorDecides() throws {
        let base = """
            time: { field: ts }
            steps:
              - saga:
                  key: id
                  start: START
                  steps:
                    - name: a
                      command: { c: '"a"' }
                      success: SUCCESS
                      failure: kind == "a_failed"
                      timeout: 1m
            """
        func step(_ start: String, _ success: String) throws -> SagaStep {
            try compileSaga(
                base.replacingOccurrences(of: "START", with: start).replacingOccurrences(of: "SUCCESS", with: success))
        }
        let both = try #require(try step("kind == \"go\"", "kind == \"a_done\"").discriminator)
        #expect(both.field == "kind")
        #expect(both.known == 0b11)
        // A success of another shape is left to CEL; the failure is still decided.
        let one = try #require(try step("kind == \"go\"", "kind == \"a_done\" && ok").discriminator)
        #expect(one.known == 0b10)
        // Another field than the start's: left to CEL.
        let other = try #require(try step("kind == \"go\"", "type == \"a_done\"").discriminator)
        #expect(other.known == 0b10)
        // A start of another shape: nothing is decided on arrival.
        #expect(try step("kind != \"go\"", "kind == \"a_done\"").discriminator == nil)
        #expect(try step("event.kind == \"go\"", "kind == \"a_done\"").discriminator == nil)
    }
}
