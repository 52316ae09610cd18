import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

/// Conditions decided in place (`CELProgram.evaluateCondition`, `EventActivation.test`,
/// the filter step's batch path) must give exactly what full evaluation gives.
struct ConditionTests {
    /// Field values of every JSON kind, including ones no comparison accepts.
    static let values: [JSON] = [
        .null, .bool(true), .bool(false), .int(0), .int(250), .int(251), .int(-3), .int(Int64.max),
        .double(250.0), .double(250.5), .double(-0.0), .double(1e300), .string("US"), .string("DE"),
        .string("USA"), .string(""), .string("é"), .string("e\u{301}"), .array([.string("US")]),
        .object(JSONObject([("a", .int(1))])),
    ]

    static let expressions = [
        "amount > 250.0", "amount >= 250", "amount < 250.5", "amount <= 250u", "250.0 < amount",
        "amount == 250", "amount != 250.0", "country == \"US\"", "\"US\" != country", "country < \"E\"",
        "country == \"é\"", "flag", "!flag", "country in [\"US\", \"DE\"]", "amount in {250: 1}",
        "amount > 250.0 && country == \"US\"", "amount > 250.0 || country == \"US\"",
        "!(amount > 250.0) && (country == \"US\" || flag)", "missing > 1 && country == \"US\"",
        "country == \"US\" || missing", "size(country) == 2 && amount > 0", "amount > 250.0 && event.flag == true",
        "amount == null", "country == [\"US\"]", "country == \"\"", "country != \"U/S\"",
        "country == \"U\\\"S\"", "country == \"K\"", "country == \"U\"", "amount > 250 && country != \"USA\"",
    ]

    /// `o` as an event still in its bytes, as a reader makes it.
    static func rawEvent(_ o: JSONObject) -> Event {
        let text = Array(JSONWriter.string(.object(o)).utf8)
        let buffer = text.withUnsafeBytes { ByteBuffer(copying: $0) }
        return Event(raw: buffer, start: 0, count: text.count)
    }

    /// The bool result or error message of `expr` on `event`, by full evaluation.
    static func reference(_ expr: Expression, _ activation: EventActivation) -> String {
        do throws(CELError) {
            let v = try expr.program.evaluate(activation)
            if case .bool(let b) = v { return "\(b)" }
            return "not bool: \(v.typeName)"
        } catch {
            return "error: \(error.message)"
        }
    }

    static func viaCondition(_ expr: Expression, _ activation: EventActivation) -> String {
        do throws(CELError) {
            return "\(try expr.evaluateBool(activation))"
        } catch {
            return error.message.hasPrefix("expected a bool") ? "not bool" : "error: \(error.message)"
        }
    }

    @Test func inPlaceAnswersAgreeWithFullEvaluation() throws {
        let compiler = ExpressionCompiler()
        let activation = compiler.activation()
        for source in Self.expressions {
            let expr = try compiler.compile(source: source)
            for amount in Self.values {
                for country in Self.values {
                    for flag in [JSON.bool(true), .bool(false), .int(1)] {
                        let o = JSONObject([("amount", amount), ("country", country), ("flag", flag)])
                        // Raw bytes take the resolve path; parsed objects the in-place one.
                        let parsed = Event(.object(o))
                        let raw = Self.rawEvent(o)
                        for event in [parsed, raw] {
                            activation.event = event
                            let want = Self.reference(expr, activation)
                            let wantBool = want == "true" || want == "false" ? want : nil
                            if let b = expr.program.evaluateCondition(activation) {
                                #expect("\(b)" == want, "\(source) on \(o): condition \(b), evaluation \(want)")
                            }
                            let set = Self.viaCondition(expr, activation)
                            let lent = activation.withEvent(event) { Self.viaCondition(expr, activation) }
                            if let wantBool {
                                #expect(set == wantBool, "\(source) on \(o)")
                                #expect(lent == wantBool, "\(source) on \(o), lent")
                            } else {
                                #expect(!(set == "true" || set == "false"), "\(source) on \(o): \(set), want \(want)")
                                #expect(
                                    !(lent == "true" || lent == "false"),
                                    "\(source) on \(o), lent: \(lent), want \(want)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Raw events read with the pipeline's field index, as a file input reads them:
    /// fields are parsed at their recorded offsets (short numbers without the parser's
    /// general loop, `JSONParser.shortNumber`), tests compare them inline
    /// (`CELFieldTest.evaluate(inline:)`) and arithmetic runs by its plan. Every answer
    /// must be the one the same event gives parsed.
    @Test func indexedRawAnswersAgreeWithParsedEvents() throws {
        let compiler = ExpressionCompiler()
        let index = FieldIndex(["amount", "country", "flag"])
        compiler.adoptFieldIndex(index)
        let activation = compiler.activation()
        let amounts = [
            "0", "-0", "-0.0", "250", "250.0", "250.00", "249.99", "250.5", "250.0000000000001", "1e2", "2.5e2",
            "0.05", "0.29", "145.93", "-145.93", "999999999999999", "9999999999999999", "123456789012345678",
            "9223372036854775807", "-9223372036854775808", "1234567890123.456", "\"250\"", "null", "true", "[250]",
        ]
        // Strings whose raw text is compared with the constant's bytes: escapes that
        // decode to the constant or not, an escaped quote where the constant's would
        // close, other lengths, non-ASCII text (the Kelvin sign is canonically `K`).
        let countries = [
            #""US""#, #""DE""#, #""U\u0053""#, #""é""#, "1", "null", #""""#, #""U""#, #""USA""#, #""U\"""#,
            #""U\"S""#, #""\\US""#, #""U\/S""#, #""U/S""#, #""K""#, "\"\u{212A}\"", #""\u212A""#, #""\u0055\u0053""#,
        ]
        let arithmetic = try ["int(amount * 100.0)", "amount * 100.0", "amount + 1", "1.5 * amount", "int(amount)"].map
        {
            try compiler.compile(source: $0)
        }
        let conditions = try Self.expressions.map { try compiler.compile(source: $0) }
        for amount in amounts {
            for country in countries {
                for flag in ["true", "1"] {
                    let text = #"{"amount":\#(amount),"country":\#(country),"flag":\#(flag)}"#
                    let bytes = Array(text.utf8)
                    let buf = ByteBuffer(capacity: bytes.count, fieldIndex: index)
                    bytes.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                    var offsets = FieldOffsets()
                    #expect(JSONParser.validate(buf.bytes(0, bytes.count), index: index, offsets: &offsets) == nil)
                    let raw = Event(raw: buf, start: 0, count: bytes.count, line: 1, offsets: offsets)
                    let parsed = Event(try JSONParser.parse(bytes))
                    for expr in conditions {
                        activation.event = parsed
                        let want = Self.reference(expr, activation)
                        activation.event = raw
                        #expect(Self.reference(expr, activation) == want, "\(expr.source) on \(text)")
                        if let b = expr.program.evaluateCondition(activation) {
                            #expect("\(b)" == want, "\(expr.source) on \(text): condition \(b), evaluation \(want)")
                        }
                        let lent = activation.withEventInPlace(raw) { Self.viaCondition(expr, activation) }
                        if want == "true" || want == "false" {
                            #expect(lent == nil || lent == want, "\(expr.source) on \(text), lent")
                        }
                    }
                    for expr in arithmetic {
                        activation.event = parsed
                        let want = try? expr.program.evaluate(activation)
                        activation.event = raw
                        guard let got = expr.program.evaluateNumber(activation) else { continue }
                        switch (got, want) {
                        case (.int(let x), .int(let y)?): #expect(x == y, "\(expr.source) on \(text)")
                        case (.double(let x), .double(let y)?):
                            #expect(x.bitPattern == y.bitPattern, "\(expr.source) on \(text): \(x) vs \(y)")
                        default:
                            Issue.record(
                                "\(expr.source) on \(text): plan \(got), evaluation \(String(describing: want))")
                        }
                    }
                }
            }
        }
    }

    @Test func fieldsAreFoundWhateverTheKeyOrder() throws {
        let compiler = ExpressionCompiler()
        let activation = compiler.activation()
        let expr = try compiler.compile(source: "b == 2 && a == 1")
        let orders: [[(String, JSON)]] = [
            [("a", 1), ("b", 2)], [("b", 2), ("a", 1)], [("c", 0), ("b", 2), ("a", 1)], [("a", 1)],
            [("bb", 2), ("a", 1), ("b", 2)],
        ]
        let expected = [true, true, true, nil, true]
        for (fields, want) in zip(orders, expected) {
            activation.event = Event(.object(JSONObject(fields)))
            let got: Bool? = try? expr.evaluateBool(activation)
            #expect(got == want, "\(fields)")
        }
    }

    @Test func eventIsTheLentEvent() throws {
        let compiler = ExpressionCompiler()
        let activation = compiler.activation()
        let expr = try compiler.compile(source: "event.a == 1 && a == 1")
        activation.event = Event(.object(JSONObject([("a", 2)])))
        let lent = Event(.object(JSONObject([("a", 1)])))
        #expect(activation.withEvent(lent) { try? expr.evaluateBool(activation) } == true)
        // Afterwards the activation is bound to the event it was set to again.
        #expect((try? expr.evaluateBool(activation)) == false)
    }

    /// A lent event is bound only inside its closure: lending another one within it
    /// binds that one, and each closure's end restores the binding around it.
    @Test func lentEventsAreBoundOnlyInsideTheirClosures() throws {
        let compiler = ExpressionCompiler()
        let activation = compiler.activation()
        let expr = try compiler.compile(source: "a")
        func read() -> JSON? { try? expr.evaluateJSON(activation) }
        activation.event = Event(.object(JSONObject([("a", 1)])))
        let outer = Event(.object(JSONObject([("b", 0), ("a", 2)])))
        let inner = Event(.object(JSONObject([("a", 3)])))
        let seen = activation.withEventInPlace(outer) { () -> [JSON?] in
            let before = read()
            let nested = activation.withEventInPlace(inner) { read() }
            return [before, nested ?? nil, read()]
        }
        #expect(seen == [2, 3, 2])
        #expect(read() == 1)
    }

    /// An event that cannot be lent in place (raw, and read as a whole through `event`)
    /// is refused without running the closure, and leaves the binding alone.
    @Test func eventsThatCannotBeLentAreRefused() throws {
        let compiler = ExpressionCompiler()
        let expr = try compiler.compile(source: "event.a == 1")
        let activation = compiler.activation(prefetching: [expr])
        activation.event = Event(.object(JSONObject([("a", 1)])))
        var ran = false
        let raw = Self.rawEvent(JSONObject([("a", 2)]))
        #expect(activation.withEventInPlace(raw) { ran = true } == nil)
        #expect(!ran)
        #expect((try? expr.evaluateBool(activation)) == true)
        #expect(activation.withEvent(raw) { try? expr.evaluateBool(activation) } == false)
    }

    @Test func filterBatchMatchesEventByEvent() throws {
        let step = try #require(try? compileStep(#"filter: amount > 250.0 && country == "US""#).get())
        var events: [Event] = []
        for (i, amount) in Self.values.enumerated() {
            for country in Self.values.prefix(16) {
                let o = JSONObject([("id", .int(Int64(i))), ("amount", amount), ("country", country)])
                if i % 3 == 0 {
                    events.append(Self.rawEvent(o))
                } else {
                    events.append(Event(.object(o)))
                }
            }
        }
        var one = StepOutput()
        for e in events { step.process(e, into: &one) }
        var batch = StepOutput()
        step.process(batch: events, into: &batch)
        #expect(batch.events.map(\.description) == one.events.map(\.description))
        #expect(batch.sides.map(\.event.description) == one.sides.map(\.event.description))
        #expect(batch.rejectedCount == one.rejectedCount)
        #expect(!batch.events.isEmpty && batch.rejectedCount > 0)
    }
}
