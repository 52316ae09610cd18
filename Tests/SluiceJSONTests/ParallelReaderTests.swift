import Foundation
import SluiceJSON
import Testing

/// `JSONStreamReader(parallel: true)` validates a large read's lines on two threads; every
/// chunk it returns must be the one a single thread returns: the same values (text, line,
/// field offsets), the same bad lines (line, message, text) and the same values marked for
/// rewriting, in the same order, chunk by chunk.
@Suite struct ParallelReaderTests {
    /// One chunk, as compared: values as (text, line, offsets), bad lines as
    /// (line, message, raw, truncated), rewritten values as indices.
    struct Seen: Equatable {
        var values: [String] = []
        var malformed: [String] = []
        var rewritten: [Int] = []
    }

    static func read(
        _ path: String, parallel: Bool, chunkSize: Int, limits: JSONLimits, duplicateKeys: DuplicateKeyPolicy,
        index: FieldIndex?
    ) throws -> [Seen] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var reader = JSONStreamReader(
            fd: fd, limits: limits, chunkSize: chunkSize, fieldIndex: index, duplicateKeys: duplicateKeys,
            parallel: parallel)
        var chunks: [Seen] = []
        while let c = try reader.next() {
            var seen = Seen()
            for v in c.values {
                let text = String(decoding: c.buffer.bytes(v.start, v.count), as: UTF8.self)
                seen.values.append("\(v.line) \((0..<3).map { v.offsets[$0] }) \(text)")
            }
            seen.malformed = c.malformed.map { "\($0.line) \($0.truncated) \($0.message) | \($0.raw)" }
            seen.rewritten = c.rewritten
            chunks.append(seen)
        }
        return chunks
    }

    /// Lines of every kind the reader tells apart: flat objects (the fast path), nested
    /// ones, escapes and UTF-8, repeated keys, blank and CRLF lines, scalars, bad JSON,
    /// and lines longer than the event limit (400 bytes here).
    static func lines(count: Int, seed: UInt64) -> [String] {
        var state = seed
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var out: [String] = []
        for i in 0..<count {
            let amount = "\(next() % 1000).\(next() % 100)"
            switch next() % 20 {
            case 0: out.append(#"{"id":\#(i),"amount":\#(amount),"nested":{"country":"US","a":[1,2]}}"#)
            case 1: out.append(#"{"id":\#(i),"country":"D\u0045","user":"ü\#(i)","amount":\#(amount)}"#)
            case 2: out.append(#"{"id":\#(i),"amount":1,"amount":2}"#)
            case 3: out.append("")
            case 4: out.append(#"{"id":\#(i), "amount" : \#(amount) , "country":"FR"}"# + "\r")
            case 5: out.append(#"{"id":\#(i),"amount":\#(amount),"country":"#)
            case 6: out.append("[\(i), \"x\"]")
            case 7: out.append(#"{"id":\#(i),"pad":""# + String(repeating: "x", count: 380 + next() % 60) + #""}"#)
            case 8: out.append(#"{"id":\#(i),"amount":1e3,"country":"US","ok":true,"no":null}"#)
            case 9: out.append("nope \(i)")
            case 10: out.append(#"{"id":\#(i),"x":{"y":1,"y":2},"amount":\#(amount)}"#)
            default: out.append(#"{"id":\#(i),"type":"click","user":"u\#(i % 97)","amount":\#(amount),"country":"US"}"#)
            }
        }
        return out
    }

    @Test func twoThreadsGiveTheChunksOfOne() throws {
        let limits = JSONLimits(maxDepth: 64, maxEventSize: 400)
        for seed: UInt64 in [1, 2, 3] {
            var text = Self.lines(count: 3000, seed: seed).joined(separator: "\n")
            // An unfinished line that outgrows the limit, and no newline at the end.
            if seed == 2 { text += "\n" + String(repeating: "y", count: 50_000) }
            if seed == 3 { text += "\n{\"id\":0,\"amount\":1}" }
            let path = NSTemporaryDirectory() + "sluice-parallel-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            defer { try? FileManager.default.removeItem(atPath: path) }
            for chunkSize in [20_000, 64 << 10, 200_000] {
                for policy in DuplicateKeyPolicy.allCases {
                    for index in [nil, FieldIndex(["amount", "country", "id"])] {
                        let one = try Self.read(
                            path, parallel: false, chunkSize: chunkSize, limits: limits, duplicateKeys: policy,
                            index: index)
                        let two = try Self.read(
                            path, parallel: true, chunkSize: chunkSize, limits: limits, duplicateKeys: policy,
                            index: index)
                        #expect(one.count == two.count, "seed \(seed), chunk \(chunkSize), \(policy)")
                        for (a, b) in zip(one, two) where a != b {
                            Issue.record("seed \(seed), chunk \(chunkSize), \(policy): chunks differ")
                            #expect(a.values == b.values)
                            #expect(a.malformed == b.malformed)
                            #expect(a.rewritten == b.rewritten)
                            break
                        }
                        // The input does reach the two-thread path and every kind of outcome.
                        #expect(one.contains { $0.values.count > 100 })
                        #expect(one.contains { !$0.malformed.isEmpty })
                        if policy != .reject { #expect(one.contains { !$0.rewritten.isEmpty }) }
                    }
                }
            }
        }
    }
}
