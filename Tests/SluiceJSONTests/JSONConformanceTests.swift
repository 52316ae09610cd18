import Foundation
import SluiceJSON
import SluiceTestSupport
import Testing

/// JSONTestSuite (nst/JSONTestSuite, test_parsing): `y_` must parse, `n_` must be
/// rejected, `i_` may go either way but the choice is recorded here so a change shows.
@Suite(.enabled(if: SharedSuites.available("conformance/json/test_parsing")))
struct JSONConformanceTests {
    static let suite = "conformance/json/test_parsing"

    /// The `i_` files Sluice accepts; every other `i_` file is rejected. See the
    /// `JSONParser` doc comment for the reasons. Rejected on purpose: numbers that
    /// overflow a double (`1e+9999`: JSON has no infinity to write back), invalid UTF-8
    /// (including an encoded surrogate such as ED A0 80), UTF-16 input and a byte order
    /// mark.
    static let acceptedImplementationDefined: Set<String> = [
        "i_number_double_huge_neg_exp.json",  // underflows to 0.0
        "i_number_real_underflow.json",
        "i_number_too_big_neg_int.json",  // beyond Int64: a double
        "i_number_too_big_pos_int.json",
        "i_number_very_big_negative_int.json",
        "i_object_key_lone_2nd_surrogate.json",  // lone surrogate -> U+FFFD
        "i_string_1st_surrogate_but_2nd_missing.json",
        "i_string_1st_valid_surrogate_2nd_invalid.json",
        "i_string_incomplete_surrogate_and_escape_valid.json",
        "i_string_incomplete_surrogate_pair.json",
        "i_string_incomplete_surrogates_escape_valid.json",
        "i_string_invalid_lonely_surrogate.json",
        "i_string_invalid_surrogate.json",
        "i_string_inverted_surrogates_U+1D11E.json",
        "i_string_lone_second_surrogate.json",
        "i_structure_500_nested_arrays.json",  // 500 < the 512 depth limit
    ]

    static func folder() throws -> URL { try SharedSuites.url(suite) }

    static func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder().path).filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test func suiteIsPresent() throws {
        let files = try Self.files()
        #expect(files.count == 318)
    }

    @Test func everyFileGoesTheRecordedWay() throws {
        var failures: [String] = []
        var counts = (y: 0, n: 0, i: 0)
        let folder = try Self.folder()
        for name in try Self.files() {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let bytes = [UInt8](data)
            let parsed: Bool
            do {
                _ = try JSONParser.parse(bytes)
                parsed = true
            } catch {
                parsed = false
            }
            // The validator used by the readers must agree with the parser on every file.
            let valid = bytes.withUnsafeBytes { JSONParser.validate($0) == nil }
            if valid != parsed { failures.append("\(name): parse=\(parsed) validate=\(valid)") }
            // The reader's flat-object fast path accepts nothing the validator rejects.
            for index in [nil, FieldIndex(["a", "b"])] {
                var offsets = FieldOffsets()
                if bytes.withUnsafeBytes({ JSONParser.validateFlat($0, index: index, offsets: &offsets) }), !valid {
                    failures.append("\(name): accepted by the flat-object fast path")
                }
            }
            switch name.prefix(2) {
            case "y_":
                counts.y += 1
                if !parsed { failures.append("\(name): rejected, must parse") }
            case "n_":
                counts.n += 1
                if parsed { failures.append("\(name): parsed, must be rejected") }
            default:
                counts.i += 1
                let expected = Self.acceptedImplementationDefined.contains(name)
                if parsed != expected {
                    failures.append(
                        "\(name): \(parsed ? "accepted" : "rejected"), recorded as \(expected ? "accepted" : "rejected")"
                    )
                }
            }
        }
        print("JSONTestSuite: \(counts.y) y_, \(counts.n) n_, \(counts.i) i_ files; \(failures.count) failures")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
