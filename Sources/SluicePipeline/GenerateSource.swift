import Dispatch
import SluiceCEL
import SluiceCore
import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `generate` input: synthetic events from a template, for demos, tests and
/// `sluice bench`.
///
/// ```yaml
/// inputs:
///   events:
///     generate:
///       count: 1000000            # how many (absent: until stopped)
///       rate: 100000              # events per second (absent: as fast as possible)
///       seed: 42                  # random choices repeat for the same seed
///       fields:                   # each a CEL expression, evaluated per event in order
///         id: counter()           # 1, 2, 3, ...
///         user: '"u" + string(random_int(1, 1000))'
///         type: choice(["click", "view", "purchase"])
///         amount: random_double(1.0, 1000.0)
///         ts: now_ms()
/// ```
/// Besides standard CEL and `params`, field expressions may call `counter()`,
/// `random_int(lo, hi)` (inclusive), `random_double(lo, hi)`, `choice(list)` and
/// `now_ms()`.
package struct GenerateSpec: Sendable {
    package var count: Int?
    package var rate: Int?
    package var seed: UInt64
    /// Field names and CEL sources, checked when the pipeline compiled.
    var fieldSources: [(String, String)]
    package let params: CELValue

    /// Programs bound to fresh state, so each run starts its counter at 1 and repeats
    /// its random choices. Compiling cannot fail here: the same sources compiled before.
    package func instantiate() -> [(String, CELProgram)] {
        let env = Self.environment(state: GeneratorState(seed: seed))
        return fieldSources.compactMap { name, source in (try? env.compile(source)).map { (name, $0) } }
    }

    static let functionNames = ["counter", "random_int", "random_double", "choice", "now_ms"]

    /// An environment with the generator functions bound to `state`.
    static func environment(state: GeneratorState) -> CELEnvironment {
        var env = CELEnvironment()
        env.addFunction("counter", receiverStyle: false, arity: 0) { _ throws(CELError) in
            .int(state.counter())
        }
        env.addFunction("random_int", receiverStyle: false, arity: 2) { args throws(CELError) in
            guard case .int(let lo) = args[0], case .int(let hi) = args[1], lo <= hi else {
                throw CELError("random_int(lo, hi) needs two ints with lo <= hi")
            }
            return .int(state.randomInt(lo...hi))
        }
        env.addFunction("random_double", receiverStyle: false, arity: 2) { args throws(CELError) in
            func d(_ v: CELValue) -> Double? {
                switch v {
                case .double(let x): x
                case .int(let i): Double(i)
                default: nil
                }
            }
            guard let lo = d(args[0]), let hi = d(args[1]), lo <= hi else {
                throw CELError("random_double(lo, hi) needs two numbers with lo <= hi")
            }
            return .double(state.randomDouble(lo, hi))
        }
        env.addFunction("choice", receiverStyle: false, arity: 1) { args throws(CELError) in
            guard case .list(let l) = args[0], !l.isEmpty else { throw CELError("choice(list) needs a non-empty list") }
            return l[Int(state.randomInt(0...Int64(l.count - 1)))]
        }
        env.addFunction("now_ms", receiverStyle: false, arity: 0) { _ throws(CELError) in
            .int(TimePolicy.nowMillis())
        }
        return env
    }
}

/// Counter and random state of one `generate` input (SplitMix64, so a seed repeats).
final class GeneratorState: Sendable {
    struct S {
        var counter: Int64 = 0
        var rng: UInt64
    }

    let s: Mutex<S>

    init(seed: UInt64) { s = Mutex(S(rng: seed)) }

    func counter() -> Int64 {
        s.withLock {
            $0.counter += 1
            return $0.counter
        }
    }

    func next() -> UInt64 {
        s.withLock {
            $0.rng &+= 0x9E37_79B9_7F4A_7C15
            var z = $0.rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func randomInt(_ r: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(bitPattern: r.upperBound &- r.lowerBound) &+ 1
        if span == 0 { return Int64(bitPattern: next()) }
        return r.lowerBound &+ Int64(bitPattern: next() % span)
    }

    func randomDouble(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * (Double(next() >> 11) / Double(1 << 53))
    }
}

/// Runs a ``GenerateSpec``.
///
/// With checkpoints its position is the number of events produced: a restored run
/// produces (and drops) that many again, so that the seeded random choices continue
/// where they were (only `now_ms()` differs).
final class GenerateSource: CheckpointedSource {
    let name: String
    let spec: GenerateSpec
    /// Overrides the spec's count (`sluice bench --events N`).
    let countOverride: Int?

    init(name: String, spec: GenerateSpec, countOverride: Int? = nil) {
        self.name = name
        self.spec = spec
        self.countOverride = countOverride
    }

    /// Events a restored run produces and drops before emitting (``resume(from:)``).
    var skip = 0

    func resume(from position: [UInt8]) throws(SourceError) {
        var r = StateReader(position)
        guard let n = try? r.readInt(), n >= 0 else {
            throw SourceError("input '\(name)': the checkpoint's generator position is unreadable")
        }
        skip = n
    }

    static func position(_ produced: Int) -> [UInt8] {
        var w = StateWriter()
        w.write(produced)
        return w.bytes
    }

    func run(_ out: SourceOutput) throws {
        let total = countOverride ?? spec.count
        let fields = spec.instantiate()
        let activation = CELDictionaryActivation(["params": spec.params])
        let batchSize: Int
        if let rate = spec.rate { batchSize = max(1, min(512, rate / 1000)) } else { batchSize = 512 }
        let start = DispatchTime.now().uptimeNanoseconds
        var produced = 0
        var batch: [Event] = []
        batch.reserveCapacity(batchSize)
        while !out.isCancelled {
            if let total, produced >= total { break }
            var o = JSONObject(minimumCapacity: fields.count)
            for (field, program) in fields {
                do {
                    o.appendUnchecked(key: field, value: try program.evaluate(activation).toJSON())
                } catch {
                    throw SourceError("generate field '\(field)': \(error.message)")
                }
            }
            produced += 1
            if produced <= skip { continue }
            batch.append(Event(.object(o), line: produced))
            if batch.count >= batchSize {
                if let rate = spec.rate {
                    // Hold each batch until its place in the schedule, so `rate` is met
                    // on average and batches never wait to fill.
                    let due = start + UInt64(Double(produced) / Double(rate) * 1e9)
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now { usleep(UInt32(min(1_000_000, (due - now) / 1000))) }
                }
                out.emit(batch)
                batch.removeAll(keepingCapacity: true)
                out.checkpointIfDue { Self.position(produced) }
            }
        }
        out.emit(batch)
        if out.isCancelled {
            out.checkpointIfDue { Self.position(produced) }
        } else if out.checkpointing {
            out.finished(at: Self.position(produced))
        }
    }
}
