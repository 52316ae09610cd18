import Foundation
import SluiceJSON
import Testing

/// Validation that records where indexed fields start must agree with a scan of the
/// same bytes for every field, present or not, and must not change what is valid.
@Suite struct FieldIndexTests {
    func record(_ text: String, _ keys: [String]) -> (error: JSONError?, offsets: FieldOffsets, index: FieldIndex) {
        let index = FieldIndex(keys)
        var offsets = FieldOffsets()
        let bytes = Array(text.utf8)
        let error = bytes.withUnsafeBytes { JSONParser.validate($0, index: index, offsets: &offsets) }
        return (error, offsets, index)
    }

    /// The value at a recorded offset, or "absent"/"unknown".
    func lookup(_ text: String, _ offsets: FieldOffsets, slot: Int) -> String {
        switch offsets[slot] {
        case .unknown: return "unknown"
        case .absent: return "absent"
        case .offset(let o):
            let v = Array(text.utf8).withUnsafeBytes { JSONParser.value(at: o, in: $0) }
            return v.map { "\($0)" } ?? "nil"
        }
    }

    @Test func recordsPresentAndAbsentFields() {
        let text = #"{"id": 7, "user": "u1", "amount": 12.5, "tags": ["a", {"amount": 1}]}"#
        let r = record(text, ["amount", "country", "user"])
        #expect(r.error == nil)
        #expect(lookup(text, r.offsets, slot: 0) == "\(JSON.double(12.5))")
        #expect(lookup(text, r.offsets, slot: 1) == "absent")
        #expect(lookup(text, r.offsets, slot: 2) == "\(JSON.string("u1"))")
    }

    @Test func agreesWithAScanOnEveryField() throws {
        let text = #"{"a":1,"b":{"a":2},"c":[1,2,{"d":3}],"d":"x\"y","e":null,"a":9}"#
        let keys = ["a", "b", "c", "d"]
        let r = record(text, keys)
        #expect(r.error == nil)
        for (slot, k) in keys.enumerated() {
            let scanned = Array(text.utf8).withUnsafeBytes { JSONParser.field(k, in: $0) }
            #expect(lookup(text, r.offsets, slot: slot) == (scanned.map { "\($0)" } ?? "absent"), "field \(k)")
        }
    }

    @Test func repeatedKeyKeepsTheFirst() {
        let text = #"{"a":1,"a":2}"#
        let r = record(text, ["a"])
        #expect(lookup(text, r.offsets, slot: 0) == "\(JSON.int(1))")
    }

    @Test func escapedKeyRecordsNothing() {
        // "\u0061" is "a": only a decoding scan can tell, so the offsets stay unknown.
        let text = #"{"\u0061":1,"b":2}"#
        let r = record(text, ["a", "b"])
        #expect(r.error == nil)
        #expect(r.offsets.isEmpty)
    }

    @Test func nonObjectsRecordNothingAndErrorsMatch() {
        for text in ["[1,2]", "3", #""s""#, "{}", #"{"a":}"#, #"{"a":1"#, #"{"a":1}x"#, "{\"a\":\"\u{01}\"}"] {
            let r = record(text, ["a"])
            let plain = Array(text.utf8).withUnsafeBytes { JSONParser.validate($0) }
            #expect(r.error == plain, "\(text)")
            if text == "{}" {
                #expect(r.offsets[0] == .absent)
            } else {
                #expect(r.offsets.isEmpty, "\(text)")
            }
        }
    }

    @Test func indexKeepsFirstDistinctNamesUpToCapacity() {
        let index = FieldIndex(["a", "b", "a", "c", "d", "e", "f", "g", "h", "i"])
        #expect(FieldIndex.capacity == 8)
        #expect(index.keys == ["a", "b", "c", "d", "e", "f", "g", "h"])
        #expect(index.slot(of: "c") == 2)
        #expect(index.slot(of: "i") == nil)
    }

    @Test func readerRecordsOffsetsPerLine() throws {
        let text = "{\"k\":1,\"v\":\"x\"}\n{\"v\":2}\n[1]\n"
        let path = NSTemporaryDirectory() + "sluice-index-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let index = FieldIndex(["k"])
        var reader = JSONStreamReader(fd: fd, chunkSize: 8, fieldIndex: index)
        var entries: [FieldOffsets.Entry] = []
        while let c = try reader.next() {
            #expect(c.buffer.fieldIndex === index)
            for v in c.values { entries.append(v.offsets[0]) }
        }
        #expect(entries == [.offset(5), .absent, .unknown])
    }
}
