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
        return .eventTime(assign: { reader.time(of: $0) }, lateness: lateness)
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
    /// The readers' field index and the time field's slot in it, when the time is a
    /// plain field the index holds: looked up once, not per event.
    let indexed: (index: FieldIndex, slot: Int)?

    init(spec: EventTimeSpec) {
        self.spec = spec
        activation = spec.compiler.activation()
        let index = spec.compiler.fieldIndex
        indexed = spec.fieldName.flatMap { name in index.slot(of: name).map { (index, $0) } }
    }

    func time(of event: Event) -> Result<Int64, TimeError> {
        if let name = spec.fieldName {
            // A plain integer (epoch milliseconds, usually) is read where the reader
            // found it, without a search by name or a general parse.
            if let (index, slot) = indexed,
                let v = event.withIndexedFieldBytes(slot: slot, of: index, Self.plainInteger), let v
            {
                return spec.millis(.int(v))
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

extension TimeReader {
    /// The JSON number at the start of `bytes` when it is an integer of at most 18
    /// digits (no fraction, no exponent), as the JSON parser would read it; nil
    /// otherwise (the caller parses the value then). The bytes were validated.
    @inline(__always)
    static func plainInteger(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let n = bytes.count
        var i = 0
        var negative = false
        if n > 0, bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        let first = i
        var v: Int64 = 0
        if let base = bytes.baseAddress {
            // Eight digits at a time while there are eight (SWAR: each byte a digit, then
            // pairs, fours and the eight combined).
            while i + 8 <= n {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                guard w & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030,
                    (w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030
                else { break }
                var d = w &- 0x3030_3030_3030_3030
                d = ((d &* 10) &+ (d >> 8)) & 0x00FF_00FF_00FF_00FF
                d = ((d &* 100) &+ (d >> 16)) & 0x0000_FFFF_0000_FFFF
                d = ((d &* 10000) &+ (d >> 32)) & 0xFFFF_FFFF
                v = v &* 100_000_000 &+ Int64(d)
                i += 8
            }
        }
        while i < n {
            let d = bytes[i] &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int64(d)
            i += 1
        }
        let digits = i - first
        guard digits > 0, digits <= 18 else { return nil }
        if i < n {
            let b = bytes[i]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { return nil }
        }
        return negative ? -v : v
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
