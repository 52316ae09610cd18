import Foundation
import SluiceJSON
import SluiceSchema
import SluiceTestSupport
import Testing

/// Runs the JSON Schema Test Suite files in `shared/conformance/json-schema/draft2020-12/`.
///
/// Groups listed in `skipped.txt` (`file: group description`) are expected to fail; the
/// test fails when one of them passes, or when any case outside them fails.
@Suite(.enabled(if: SharedSuites.available("conformance/json-schema/draft2020-12")))
struct ConformanceTests {
    static let suite = "conformance/json-schema/draft2020-12"

    static func skippedGroups() throws -> Set<String> {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("skipped.txt")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            out.insert(t)
        }
        return out
    }

    @Test func draft2020_12() throws {
        let dir = try SharedSuites.url(Self.suite)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".json") }
            .sorted()
        #expect(!files.isEmpty, "no conformance files in \(dir.path)")
        let skipped = try Self.skippedGroups()
        var seenSkipped: Set<String> = []
        var rows: [(String, Int, Int, Int)] = []
        var totalPass = 0
        var totalCases = 0
        var totalSkipped = 0

        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let doc = try JSONParser.parse(text)
            guard case .array(let groups) = doc else {
                Issue.record("\(file): not an array of groups")
                continue
            }
            var pass = 0
            var cases = 0
            var skippedCases = 0
            for group in groups {
                let description = group["description"]?.stringValue ?? "?"
                let key = "\(file): \(description)"
                let isSkipped = skipped.contains(key)
                if isSkipped { seenSkipped.insert(key) }
                let tests = group["tests"]?.arrayValue ?? []
                let schema: JSONSchema?
                var compileError: SchemaError?
                do {
                    schema = try JSONSchema(group["schema"] ?? .bool(true))
                } catch {
                    schema = nil
                    compileError = error
                }
                var groupFailures: [String] = []
                for test in tests {
                    cases += 1
                    let testDescription = test["description"]?.stringValue ?? "?"
                    let expected = test["valid"] == .bool(true)
                    let data = test["data"] ?? .null
                    guard let schema else {
                        groupFailures.append(
                            "\(testDescription): schema did not compile: \(compileError.map { "\($0)" } ?? "")")
                        continue
                    }
                    let fast = schema.isValid(data)
                    let violations = schema.validate(data)
                    if fast == expected && violations.isEmpty == expected {
                        pass += 1
                    } else {
                        groupFailures.append(
                            "\(testDescription): expected valid=\(expected), isValid=\(fast), violations=\(violations)")
                    }
                }
                if isSkipped {
                    skippedCases += tests.count
                    if groupFailures.isEmpty {
                        Issue.record("\(key) passes now; remove it from skipped.txt")
                    }
                } else {
                    for f in groupFailures { Issue.record("\(key): \(f)") }
                }
            }
            rows.append((file, pass, cases, skippedCases))
            totalPass += pass
            totalCases += cases
            totalSkipped += skippedCases
        }
        for stale in skipped.subtracting(seenSkipped) {
            Issue.record("skipped.txt lists '\(stale)', which is no group in the suite")
        }

        var table = "JSON Schema draft2020-12 conformance\n"
        table += "file".padding(toLength: 28, withPad: " ", startingAt: 0) + "  pass / cases  skipped\n"
        for (file, pass, cases, skippedCases) in rows {
            table += file.padding(toLength: 28, withPad: " ", startingAt: 0)
            table += "  \(String(pass).leftPad(4)) / \(String(cases).leftPad(5))  \(String(skippedCases).leftPad(7))\n"
        }
        table += "total".padding(toLength: 28, withPad: " ", startingAt: 0)
        table +=
            "  \(String(totalPass).leftPad(4)) / \(String(totalCases).leftPad(5))  \(String(totalSkipped).leftPad(7))\n"
        print(table)
    }
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String {
        count >= n ? self : String(repeating: " ", count: n - count) + self
    }
}
