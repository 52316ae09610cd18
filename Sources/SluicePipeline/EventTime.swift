import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps

/// The pipeline's `time:` section: how to read an event's time (docs/pipeline-language.md, "Event time").
struct EventTimeSpec: Sendable {
    /// Multiplier from the field's unit to milliseconds, as a fraction.
    enum Unit: String, Sendable, CaseIterable {
        case s, ms, us, ns
        func toMillis(_ v: Double) -> Double {
            switch self {
            case .s: v * 1000
            case .ms: v
            case .us: v / 1000
            case .ns: v / 1_000_000
            }
        }
        func toMillis(_ v: Int64) -> Int64? {
            switch self {
            case .s: v.multipliedReportingOverflow(by: 1000).overflow ? nil : v * 1000
            case .ms: v
            case .us: v / 1000
            case .ns: v / 1_000_000
            }
        }
    }

    var expression: Expression
    /// Set when the expression is a plain field name: read it without CEL.
    var fieldName: String?
    var unit: Unit
    var lateness: Int64
    let compiler: ExpressionCompiler

    /// A policy for one source (each source gets its own activation).
    func policy() -> TimePolicy {
        let reader = TimeReader(spec: self)
        // The time the reader reads first (a plain integer at its recorded offset), read
        // by the source itself; `assign` reads the rest, and gives the same answer for these.
        return .eventTime(assign: { reader.time(of: $0) }, lateness: lateness, indexed: reader.indexed)
    }

    /// The time field's value read at its recorded offset (see ``IndexedTime``), with
    /// this unit, when `name` is a plain field that `index` holds.
    func indexedTime(_ name: String?, in index: FieldIndex) -> IndexedTime? {
        guard let name, let slot = index.slot(of: name) else { return nil }
        switch unit {
        case .s: return IndexedTime(index: index, slot: slot, multiplier: 1000, divisor: 1)
        case .ms: return IndexedTime(index: index, slot: slot, multiplier: 1, divisor: 1)
        case .us: return IndexedTime(index: index, slot: slot, multiplier: 1, divisor: 1000)
        case .ns: return IndexedTime(index: index, slot: slot, multiplier: 1, divisor: 1_000_000)
        }
    }

    /// Converts a time value to epoch milliseconds.
    func millis(_ v: CELValue) -> Result<Int64, TimeError> {
        switch v {
        case .int(let i):
            guard let ms = unit.toMillis(i) else {
                return .failure(TimeError("event time \(i)\(unit.rawValue) is out of range"))
            }
            return .success(ms)
        case .uint(let u):
            guard u <= UInt64(Int64.max), let ms = unit.toMillis(Int64(u)) else {
                return .failure(TimeError("event time is out of range"))
            }
            return .success(ms)
        case .double(let d):
            let ms = unit.toMillis(d)
            guard ms.isFinite, ms > -9.2e18, ms < 9.2e18 else {
                return .failure(TimeError("event time \(d) is out of range"))
            }
            return .success(Int64(ms.rounded(.down)))
        case .string(let s):
            do {
                let t = try CELTimestamp(parsing: s)
                return .success(t.seconds * 1000 + Int64(t.nanos) / 1_000_000)
            } catch {
                return .failure(TimeError("event time '\(s)' is not an RFC 3339 timestamp"))
            }
        case .timestamp(let t):
            return .success(t.seconds * 1000 + Int64(t.nanos) / 1_000_000)
        default:
            return .failure(TimeError("event time must be a number or an RFC 3339 string, got \(v.typeName)"))
        }
    }
}

/// Reads times for one source; used only on that source's thread. `@unchecked Sendable`
/// only because ``TimePolicy``'s `assign` must be `@Sendable`: each ``EventTimeSpec/policy()``
/// makes a fresh reader that only that policy's closure holds, and the runtime calls a
/// source's `assign` on that source's thread alone, so its mutable activation is never shared.
final class TimeReader: @unchecked Sendable {
    let spec: EventTimeSpec
    let activation: EventActivation
    /// The time read at its offset in the readers' field index, when the time is a plain
    /// field the index holds (its slot looked up once, not per event); the source reads
    /// it itself, and so does ``time(of:)`` first, so the unit is applied in one place.
    let indexed: IndexedTime?

    init(spec: EventTimeSpec) {
        self.spec = spec
        activation = spec.compiler.activation()
        indexed = spec.indexedTime(spec.fieldName, in: spec.compiler.fieldIndex)
    }

    func time(of event: Event) -> Result<Int64, TimeError> {
        if let name = spec.fieldName {
            // A plain integer (epoch milliseconds, usually) is read where the reader
            // found it, without a search by name or a general parse; anything it does not
            // answer (an overflow too) is read below and gives the same time or error.
            if let indexed, let ms = withUnsafePointer(to: event, { indexed.millis(of: $0) }) {
                return .success(ms)
            }
            guard let v = event.field(name) else { return .failure(TimeError("no field '\(name)' for the event time")) }
            if case .null = v { return .failure(TimeError("field '\(name)' (the event time) is null")) }
            return spec.millis(CELValue(json: v))
        }
        activation.event = event
        do {
            return spec.millis(try spec.expression.evaluate(activation))
        } catch {
            return .failure(TimeError("event time: \(error.message)"))
        }
    }
}

/// True when `s` is a plain CEL identifier that reads a top-level field.
func isPlainFieldName(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
        return false
    }
    let reserved: Set<String> = [
        "event", "params", "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
        "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
    ]
    return !reserved.contains(s)
        && s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
}
