import PropertyBased
import SluiceCore
import SluiceJSON
import SluiceTestSupport
import Testing

/// Every built-in step gives the same results through each of its entry points:
/// ``Step/process(_:into:)`` (what most tests drive), ``Step/process(at:into:)`` and
/// ``Step/process(batch:into:)`` (what the stages of a running pipeline call), on parsed
/// and on raw events alike.
@Suite struct StepPathTests {
    /// One configuration of each built-in step (and `when`), reading the fields the
    /// generated events have.
    static let steps = [
        "filter: amount > 50",
        #"map: '{"u": user, "a": amount * 2}'"#,
        // Values copied as their text (user, n), arithmetic by its plan (c, d), on
        // amounts that may be missing or null.
        #"map: '{"u": user, "n": n, "c": int(double(amount) * 1.5), "d": amount / 3 - n}'"#,
        "enrich: { set: { c: int(double(amount) * 1.5), d: amount - 7, h: double(amount) / 2.0 } }",
        "enrich: { set: { big: amount > 50, who: user }, remove: [n] }",
        "enrich: { set: { seen: true } }\nwhen: n % 2 == 0",
        "validate: { rules: [ { expr: amount > 10, message: small } ] }",
        "route: { big: amount > 60, odd: n % 2 == 1 }",
        "dedupe: { key: user, within: 5ms, max_keys: 2 }",
        "reorder: { max_buffer: 6 }",
        "window: { key: user, tumbling: 10ms, allowed_lateness: 3ms, aggregate: { c: count(), s: sum(amount), m: max(amount) } }",
        "window: { key: user, session: { gap: 4ms }, aggregate: { c: count(), s: sum(amount) } }",
        "window: { key: user, count: { size: 3, every: 3 }, aggregate: { s: sum(amount) } }",
        """
        pattern:
          key: user
          within: 20ms
          sequence:
            - { name: a, where: amount > 50 }
            - { name: b, where: amount < 30 }
          emit: { first: a.n, second: b.n }
        """,
    ]

    /// What a generated input does: send an event (user `u0`–`u3`, an amount that may be
    /// missing or null, a time up to `back` behind a clock that moves by `dt`), as a raw
    /// or a parsed event; or advance the watermark to `lag` behind the latest time sent.
    struct Op: Sendable, CustomStringConvertible {
        var dt: Int64
        var back: Int64
        var user: Int
        var amount: Int64
        var raw: Bool
        var advance: Bool
        var description: String {
            advance
                ? "advance(lag \(back))" : "\(raw ? "raw" : "parsed") u\(user) amount \(amount) dt \(dt) back \(back)"
        }
    }

    static let ops = zip(
        Gen.int64(in: 0...4), Gen.int64(in: 0...8), Gen.int(in: 0...3), Gen.int64(in: -1...100), Gen.bool, Gen.bool(0.2)
    ).map { Op(dt: $0, back: $1, user: $2, amount: $3, raw: $4, advance: $5) }.array(of: 0...40)

    /// Runs `ops` through a fresh instance of `yaml` on `path`: the main output and each
    /// side output, as text.
    static func run(_ yaml: String, _ ops: [Op], path: StepHarness.Path) throws -> [String] {
        let h = StepHarness(try compileStep(yaml).get(), path: path)
        var clock: Int64 = 1000
        var latest = Int64.min
        for (i, op) in ops.enumerated() {
            clock += op.dt
            if op.advance {
                if latest != Int64.min, latest - op.back > h.watermark { h.advance(to: latest - op.back) }
                continue
            }
            var o = JSONObject()
            o["n"] = .int(Int64(i))
            o["user"] = .string("u\(op.user)")
            switch op.amount {
            case -1: break
            case 0: o["amount"] = .null
            default: o["amount"] = .int(op.amount)
            }
            let t = clock - op.back
            latest = max(latest, t)
            var e: Event
            if op.raw {
                let text = Array(JSONWriter.string(.object(o)).utf8)
                e = Event(raw: text.withUnsafeBytes { ByteBuffer(copying: $0) }, start: 0, count: text.count)
            } else {
                e = Event(.object(o))
            }
            e.time = t
            h.send(e)
        }
        h.advance(to: Int64.max)
        var out = ["main: " + h.emitted.map { JSONWriter.string($0.value) }.joined(separator: " ")]
        for port in h.sides.keys.sorted() {
            out.append("\(port): " + (h.sides[port] ?? []).map { JSONWriter.string($0.value) }.joined(separator: " "))
        }
        return out
    }

    @Test(arguments: steps)
    func everyEntryPointGivesTheSameResults(_ yaml: String) async throws {
        // The configuration compiles (else every run below would fail the same way).
        _ = try compileStep(yaml).get()
        await propertyCheck(count: 60, input: Self.ops) { ops in
            let value = try Self.run(yaml, ops, path: .value)
            #expect(try Self.run(yaml, ops, path: .pointer) == value)
            #expect(try Self.run(yaml, ops, path: .batch) == value)
        }
    }

    /// A batch of several events gives what the events one by one give, for the steps
    /// whose results do not depend on the watermark between events.
    @Test(arguments: steps.prefix(6))
    func aBatchGivesWhatItsEventsGiveOneByOne(_ yaml: String) async throws {
        await propertyCheck(count: 40, input: Self.ops) { ops in
            let events = ops.enumerated().filter { !$0.element.advance }.map { i, op in
                Event([
                    "n": .int(Int64(i)), "user": .string("u\(op.user)"),
                    "amount": op.amount < 0 ? .null : .int(op.amount),
                ])
            }
            let one = StepHarness(try compileStep(yaml).get())
            for e in events { one.send(e) }
            let batch = StepHarness(try compileStep(yaml).get())
            batch.send(batch: events)
            #expect(batch.take() == one.take())
            #expect(batch.sides.mapValues { $0.map(\.value) } == one.sides.mapValues { $0.map(\.value) })
        }
    }
}
