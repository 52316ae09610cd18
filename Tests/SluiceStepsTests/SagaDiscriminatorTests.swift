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

    /// Parsed events, whose fields the step reads in place where they were in the last
    /// event (the discriminator's field, the key, the kept fields of starts and replies),
    /// against the same events as text, read by name from their bytes: the fields of each
    /// event in a random order, with others added at random places, so that the places
    /// change from one event to the next.
    @Test func parsedEventsReadInPlaceGiveWhatRawEventsGive() async {
        await propertyCheck(count: 100, input: RandomSaga.generator, SagaRun.generator) { saga, runs in
            let yaml = Self.yaml(saga)
            guard let parsed = try? compileSaga(yaml), let raw = try? compileSaga(yaml) else {
                Issue.record("does not compile:\n\(yaml)")
                return
            }
            var rng: UInt64 = 0x5A6A &+ UInt64(runs.count)
            func next(_ n: Int) -> Int {
                rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((rng >> 33) % UInt64(n))
            }
            let events = Self.events(saga, runs).map { e -> (time: Int64, value: JSON) in
                guard case .object(let o) = e.value else { return e }
                var pairs = Array(zip(o.keys, o.values))
                for i in pairs.indices.reversed() { pairs.swapAt(i, next(i + 1)) }
                if next(3) == 0 { pairs.insert(("extra", .int(1)), at: next(pairs.count + 1)) }
                if next(5) == 0 { pairs.insert(("got", .string("x")), at: next(pairs.count + 1)) }
                return (e.time, .object(JSONObject(pairs)))
            }
            let a = SagaHarness(parsed, lateness: Int64(saga.lateness) * 1000)
            let b = SagaHarness(raw, lateness: Int64(saga.lateness) * 1000, raw: true)
            for e in events {
                a.send(e.value, time: e.time)
                b.send(e.value, time: e.time)
            }
            a.end()
            b.end()
            #expect(
                a.out.map { "\($0.port) \(JSONWriter.string($0.value))" }
                    == b.out.map { "\($0.port) \(JSONWriter.string($0.value))" })
        }
    }

    /// ``SagaStep/match(_:_:)`` against the strings' `==`, for the texts of the same
    /// length: ASCII, other bytes, and strings equal to ASCII ones only as Unicode.
    @Test func matchingAFieldsTextIsStringEquality() throws {
        let texts = ["go", "a_done", "a_fail", "K", ";", "abc"]
        let d = SagaStep.Discriminator(
            field: "kind",
            texts: texts.enumerated().map { i, t in
                .init(text: t, utf8Count: t.utf8.count, holds: 1 << UInt64(i), starts: i == 0)
            }, known: 0b111111)
        let values = [
            "go", "a_done", "a_fail", "a_faiL", "K", "\u{212A}", ";", "\u{037E}", "ab", "abc", "ab\u{301}", "é", "",
            "go ", "\u{1F600}",
        ]
        for v in values {
            var expected: (UInt64, Bool) = (0, false)
            for t in d.texts where t.utf8Count == v.utf8.count && t.text == v {
                expected = (t.holds, t.starts)
                break
            }
            let got = SagaStep.match(d, v)
            #expect(got.holds == expected.0 && got.starts == expected.1, "\(v)")
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
