import SluiceCEL
import Testing

/// Arithmetic computed by its flat plan (`CELProgram.evaluateNumber`) must give exactly
/// what full evaluation gives wherever it answers, and must answer for the common case.
struct ArithmeticTests {
    /// Variable values of every kind the plan meets, and the edges of its checks.
    static let values: [CELValue?] = [
        nil, .null, .bool(true), .int(0), .int(7), .int(-3), .int(Int64.max), .int(Int64.min), .int(1 << 53),
        .uint(5), .double(0.29), .double(145.93), .double(-0.0), .double(2.5), .double(1e300), .double(-1e300),
        .double(.infinity), .double(-.infinity), .double(.nan), .double(9.223372036854775807e18),
        .double(-9.223372036854775808e18), .double(9.2233720368547748e18), .double(-9.2233720368547748e18),
        .string("12"), .list([.int(1)]),
    ]

    static let expressions = [
        "int(amount * 100.0)", "amount * 100.0", "amount + 1", "amount - y", "amount / y", "amount * y",
        "double(amount) * 2.0", "int(amount)", "double(amount)", "int(amount / 3.0) + 1", "(amount + y) * (amount - y)",
        "int(double(y) * amount)", "amount * 100", "1.5 * amount", "int(amount * 100.0) / y", "y / 0", "amount + 2u",
        "int(y) - 9223372036854775807", "amount * amount * amount",
        // One variable and one constant, with one conversion or none: run without the stack.
        "amount - 1.5", "100 - amount", "2.0 / amount", "amount / 2", "int(2.5 * amount)", "double(amount * 3)",
        "int(amount - 0.5)", "double(100 - amount)", "int(int(amount))", "amount * -1",
    ]

    /// The same value: same kind, same bits for doubles (so -0.0 and 0.0 differ, and NaN
    /// equals NaN).
    static func same(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        default: return false
        }
    }

    @Test func planAgreesWithFullEvaluation() throws {
        let env = CELEnvironment()
        for source in Self.expressions {
            let program = try env.compile(source)
            for amount in Self.values {
                for y in Self.values {
                    var bindings: [String: CELValue] = [:]
                    if let amount { bindings["amount"] = amount }
                    if let y { bindings["y"] = y }
                    let activation = CELDictionaryActivation(bindings)
                    guard let number = program.evaluateNumber(activation) else { continue }
                    let full = Result { () throws(CELError) -> CELValue in try program.evaluate(activation) }
                    switch full {
                    case .success(let v):
                        #expect(
                            Self.same(v, number),
                            "\(source) with amount \(String(describing: amount)), y \(String(describing: y)): plan \(number), evaluation \(v)"
                        )
                    case .failure(let e):
                        Issue.record("\(source): plan gave \(number), evaluation failed: \(e.message)")
                    }
                }
            }
        }
    }

    @Test func planAgreesOnRandomNumbers() throws {
        let env = CELEnvironment()
        var rng = SystemRandomNumberGenerator()
        for source in Self.expressions {
            let program = try env.compile(source)
            for _ in 0..<300 {
                func random() -> CELValue {
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: return .int(Int64.random(in: -1_000_000...1_000_000, using: &rng))
                    case 1: return .int(Int64.random(in: Int64.min...Int64.max, using: &rng))
                    case 2: return .double(Double(Int.random(in: -100_000...100_000, using: &rng)) / 100)
                    default: return .double(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
                    }
                }
                let activation = CELDictionaryActivation(["amount": random(), "y": random()])
                guard let number = program.evaluateNumber(activation) else { continue }
                switch Result(catching: { () throws(CELError) -> CELValue in try program.evaluate(activation) }) {
                case .success(let v):
                    #expect(Self.same(v, number), "\(source) on \(activation.values): \(number) vs \(v)")
                case .failure(let e):
                    Issue.record("\(source) on \(activation.values): plan \(number), error \(e.message)")
                }
            }
        }
    }

    /// The shapes the plan is for answer on ordinary numbers; others do not have one.
    @Test func commonShapesHaveAPlan() throws {
        let env = CELEnvironment()
        let activation = CELDictionaryActivation(["amount": .double(145.93), "n": .int(3)])
        for (source, want) in [
            ("int(amount * 100.0)", CELValue.int(14593)), ("amount * 100.0", .double(14593.0)),
            ("n * 2 + 1", .int(7)), ("double(n) / 2.0", .double(1.5)),
        ] {
            let got = try env.compile(source).evaluateNumber(activation)
            #expect(got.map { Self.same($0, want) } == true, "\(source): \(String(describing: got))")
        }
        // Mixed types are an error in CEL: the plan leaves them to evaluation.
        #expect(try env.compile("amount * 100").evaluateNumber(activation) == nil)
        #expect(try env.compile("n").hasArithmetic == false)
        #expect(try env.compile("amount > 1.0").hasArithmetic == false)
        #expect(try env.compile("2 * 3").hasArithmetic == false)
        #expect(try env.compile("size(s) + 1").hasArithmetic == false)
    }
}
