import Foundation
import SluiceCEL
import SluiceJSON
import SluiceTestSupport
import Testing

/// Runs the cel-spec conformance cases in `shared/conformance/cel/cases.jsonl` (format in
/// `shared/conformance/README.md` §3). Every failure must be listed in
/// `known-failures.txt`, and every listed case must still fail, so the list only shrinks.
@Suite(.enabled(if: SharedSuites.available("conformance/cel/cases.jsonl")))
struct ConformanceTests {
    static let suite = "conformance/cel/cases.jsonl"

    struct Outcome {
        let id: String
        let file: String
        let failure: String?
    }

    @Test func conformanceSuite() throws {
        let url = try SharedSuites.url(Self.suite)
        let text = try String(contentsOf: url, encoding: .utf8)
        var outcomes: [Outcome] = []
        for (n, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
            // JSONDecoder rather than SluiceJSON's parser: the latter currently mis-steps
            // over multi-byte UTF-8 in unescaped strings (reported upstream).
            do {
                let decoded = try JSONDecoder().decode(DecodedJSON.self, from: Data(line.utf8))
                outcomes.append(Self.run(decoded.json))
            } catch {
                Issue.record("cases.jsonl line \(n + 1): \(error)")
            }
        }
        let knownURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "known-failures.txt")
        let knownText = (try? String(contentsOf: knownURL, encoding: .utf8)) ?? ""
        var known: Set<String> = []
        for line in knownText.split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.isEmpty || l.hasPrefix("#") { continue }
            known.insert(String(l.split(separator: ":", maxSplits: 1)[0]))
        }

        // Per-file table.
        var files: [String] = []
        var passed: [String: Int] = [:]
        var total: [String: Int] = [:]
        for o in outcomes {
            if total[o.file] == nil { files.append(o.file) }
            total[o.file, default: 0] += 1
            if o.failure == nil { passed[o.file, default: 0] += 1 }
        }
        var report =
            "CEL conformance\n" + "file".padding(toLength: 14, withPad: " ", startingAt: 0) + " passed  failed  total\n"
        for f in files {
            let p = passed[f, default: 0], t = total[f, default: 0]
            report +=
                f.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: " %6d  %6d  %5d\n", p, t - p, t)
        }
        let allPassed = outcomes.filter { $0.failure == nil }.count
        report += String(
            format: "total: %d/%d passed (%.1f%%)\n", allPassed, outcomes.count,
            100.0 * Double(allPassed) / Double(outcomes.count))
        print(report)

        var unexpected: [String] = []
        for o in outcomes {
            if let failure = o.failure, !known.contains(o.id) { unexpected.append("\(o.id): \(failure)") }
        }
        let ids = Set(outcomes.map(\.id))
        let nowPassing = outcomes.filter { $0.failure == nil && known.contains($0.id) }.map(\.id)
        let stale = known.filter { !ids.contains($0) }
        for u in unexpected { print("UNEXPECTED FAILURE " + u) }
        for n in nowPassing { print("NOW PASSING (remove from known-failures.txt) " + n) }
        #expect(unexpected.isEmpty, "\(unexpected.count) unexpected failures")
        #expect(nowPassing.isEmpty, "\(nowPassing.count) known failures now pass")
        #expect(stale.isEmpty, "known-failures.txt names cases that do not exist: \(stale.sorted())")
        #expect(Double(allPassed) >= 0.95 * Double(outcomes.count))
    }

    static func run(_ c: JSON) -> Outcome {
        let file = c["file"]?.stringValue ?? "?"
        let id = "\(file)/\(c["section"]?.stringValue ?? "?")/\(c["name"]?.stringValue ?? "?")"
        func out(_ failure: String?) -> Outcome { Outcome(id: id, file: file, failure: failure) }
        let expr = c["expr"]?.stringValue ?? ""
        var options = CELOptions()
        options.typeCheck = c["disable_check"] != .bool(true)
        options.macros = c["disable_macros"] != .bool(true)
        if let container = c["container"]?.stringValue { options.container = container }
        var env = CELEnvironment(options: options)
        if let decls = c["types"]?["env"]?.objectValue {
            for (name, type) in decls {
                do throws(CELCompileError) {
                    try env.declare(name, type: type.stringValue ?? "dyn")
                } catch {
                    return out("cannot declare \(name): \(error.message)")
                }
            }
        }
        var bindings: [String: CELValue] = [:]
        if let b = c["bindings"]?.objectValue {
            for (name, v) in b {
                guard let value = decode(v) else { return out("cannot decode binding \(name)") }
                bindings[name] = value
            }
        }
        let expectsError = c["expect_error"] == .bool(true)
        let program: CELProgram
        do throws(CELCompileError) {
            program = try env.compile(expr)
        } catch {
            return out(expectsError ? nil : "compile error: \(error.message) at \(error.offset)")
        }
        let activation = CELDictionaryActivation(bindings)
        // The in-place condition path must agree with evaluation wherever it answers.
        let condition = program.evaluateCondition(activation)
        // So must the arithmetic path.
        let number = program.evaluateNumber(activation)
        let result: CELValue
        do throws(CELError) {
            result = try program.evaluate(activation)
        } catch {
            if let condition { return out("condition decided \(condition), evaluation failed: \(error.message)") }
            if let number { return out("arithmetic gave \(number), evaluation failed: \(error.message)") }
            return out(expectsError ? nil : "evaluation error: \(error.message)")
        }
        if let condition, !strictlyEqual(result, .bool(condition)) {
            return out("condition decided \(condition), evaluation gave \(result)")
        }
        if let number, !strictlyEqual(result, number) {
            return out("arithmetic gave \(number), evaluation gave \(result)")
        }
        if expectsError { return out("expected an error, got \(result)") }
        guard let expectJSON = c["expect"], let expected = decode(expectJSON) else {
            return out("cannot decode expect")
        }
        return out(
            strictlyEqual(result, expected)
                ? nil : "got \(result) (\(result.typeName)), want \(expected) (\(expected.typeName))")
    }

    /// Decodes the `{"int": "1"}` value encoding of the conformance file.
    static func decode(_ j: JSON) -> CELValue? {
        guard case .object(let o) = j, o.count == 1, let key = o.keys.first, let v = o.values.first else { return nil }
        switch key {
        case "null": return .null
        case "bool": if case .bool(let b) = v { return .bool(b) }
        case "int": if let s = v.stringValue, let i = Int64(s) { return .int(i) }
        case "uint": if let s = v.stringValue, let u = UInt64(s) { return .uint(u) }
        case "double":
            switch v {
            case .double(let d): return .double(d)
            case .int(let i): return .double(Double(i))
            case .string("NaN"): return .double(.nan)
            case .string("Infinity"): return .double(.infinity)
            case .string("-Infinity"): return .double(-.infinity)
            default: return nil
            }
        case "string": return v.stringValue.map { .string($0) }
        case "bytes": if let s = v.stringValue, let d = Data(base64Encoded: s) { return .bytes(Array(d)) }
        case "list":
            guard let a = v.arrayValue else { return nil }
            var out: [CELValue] = []
            for x in a {
                guard let y = decode(x) else { return nil }
                out.append(y)
            }
            return .list(out)
        case "map":
            guard let a = v.arrayValue else { return nil }
            var m = CELMap()
            for pair in a {
                guard let kv = pair.arrayValue, kv.count == 2, let k = decode(kv[0]), let val = decode(kv[1]) else {
                    return nil
                }
                m.insertOrReplace(k, val)
            }
            return .map(m)
        case "timestamp":
            if let s = v.stringValue { return try? CELValue.timestamp(CELTimestamp(parsing: s)) }
        case "duration":
            if let s = v.stringValue { return try? CELValue.duration(CELDuration(parsing: s)) }
        case "type": return v.stringValue.map { .type(CELType(name: $0)) }
        default: return nil
        }
        return nil
    }

    /// Upstream's matching rule: same type, NaN matches NaN, maps ignore order.
    static func strictlyEqual(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.list(let x), .list(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { strictlyEqual($0, $1) }
        case (.map(let x), .map(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.entries {
                guard let i = y.keys.firstIndex(where: { strictlyEqual($0, k) }), strictlyEqual(v, y.values[i]) else {
                    return false
                }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.type(let x), .type(let y)): return x == y
        default: return false
        }
    }
}

/// A JSON value decoded with Foundation, converted to SluiceJSON's `JSON`.
struct DecodedJSON: Decodable {
    let json: JSON

    init(from decoder: any Decoder) throws {
        if var a = try? decoder.unkeyedContainer() {
            var out: [JSON] = []
            while !a.isAtEnd { out.append(try a.decode(DecodedJSON.self).json) }
            json = .array(out)
            return
        }
        if let o = try? decoder.container(keyedBy: AnyKey.self) {
            var obj = JSONObject()
            for k in o.allKeys { obj[k.stringValue] = try o.decode(DecodedJSON.self, forKey: k).json }
            json = .object(obj)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            json = .null
        } else if let b = try? c.decode(Bool.self) {
            json = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            json = .int(i)
        } else if let d = try? c.decode(Double.self) {
            json = .double(d)
        } else {
            json = .string(try c.decode(String.self))
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
