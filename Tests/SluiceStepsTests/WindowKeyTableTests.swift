import SluiceJSON
import Testing

@testable import SluiceSteps

/// The window's key table must group keys exactly as `JSON`'s `==` does (as the
/// `Dictionary` it replaced did), including canonically equivalent strings.
@Suite struct WindowKeyTableTests {
    @Test func equalKeysHashAlike() {
        let pairs: [(JSON, JSON)] = [
            (.string("K"), .string("\u{212A}")),  // KELVIN SIGN
            (.string("a;b"), .string("a\u{037E}b")),  // GREEK QUESTION MARK
            (.string("`x"), .string("\u{1FEF}x")),  // GREEK VARIA
            (.string("caf\u{E9}"), .string("cafe\u{301}")),
            (.string("\u{C5}"), .string("\u{212B}")),  // ANGSTROM SIGN
            (.double(0.0), .double(-0.0)),
            (.array([.string("K"), 1]), .array([.string("\u{212A}"), 1])),
            // Short ASCII keys hash by their two words, longer ones byte by byte: a
            // non-ASCII spelling must land on the same side of the 15-byte line.
            (.string("abcdefghijklmnK"), .string("abcdefghijklmn\u{212A}")),
            (.string("abcdefghijklmnoK"), .string("abcdefghijklmno\u{212A}")),
            (.string("abcdefgK"), .string("abcdefg\u{212A}")),
            (.string("abcdefghK"), .string("abcdefgh\u{212A}")),
            (.string(""), .string(String(decoding: [UInt8](), as: UTF8.self))),
        ]
        for (a, b) in pairs {
            #expect(a == b)
            #expect(KeyTable.hash(a) == KeyTable.hash(b), "\(a) and \(b)")
        }
    }

    /// Random strings spelled two ways from canonically equivalent pieces (so equal), of
    /// every length around the 15-byte line: their hashes are equal; and fingerprints,
    /// when both are exact, are equal exactly when the strings are.
    @Test func hashesAndFingerprintsAgreeWithEquality() {
        let classes: [[String]] = [
            ["a"], ["z"], ["0"], ["K", "\u{212A}"], ["\u{E9}", "e\u{301}"], ["\u{C5}", "\u{212B}", "A\u{30A}"],
            [";", "\u{037E}"],
        ]
        var rng = SystemRandomNumberGenerator()
        var spelled: [(String, String)] = []
        for _ in 0..<5000 {
            var a = ""
            var b = ""
            for _ in 0..<Int.random(in: 0...20, using: &rng) {
                let c = classes.randomElement(using: &rng) ?? ["a"]
                a += c.randomElement(using: &rng) ?? "a"
                b += c.randomElement(using: &rng) ?? "a"
            }
            spelled.append((a, b))
        }
        for (a, b) in spelled {
            #expect(a == b)
            let (ha, pa) = KeyTable.hashAndPrint(.string(a))
            let (hb, pb) = KeyTable.hashAndPrint(.string(b))
            #expect(ha == hb, "\(a.unicodeScalars.map(\.value)) and \(b.unicodeScalars.map(\.value))")
            if pa.isExact && pb.isExact { #expect(pa == pb) }
        }
        for _ in 0..<20_000 {
            let a = spelled.randomElement(using: &rng)?.0 ?? ""
            let b = spelled.randomElement(using: &rng)?.1 ?? ""
            let pa = KeyTable.hashAndPrint(.string(a)).1
            let pb = KeyTable.hashAndPrint(.string(b)).1
            if pa.isExact && pb.isExact { #expect((pa == pb) == (a == b)) }
        }
    }

    @Test func insertFindRemoveThroughGrowthAndDeletion() {
        var table = KeyTable()
        var keys: [JSON] = []
        for i in 0..<5000 { keys.append(i % 3 == 0 ? .int(Int64(i)) : .string("k\(i)")) }
        for (i, k) in keys.enumerated() { table.insert(hash: KeyTable.hash(k), Int32(i)) }
        #expect(table.count == keys.count)
        for i in stride(from: 0, to: keys.count, by: 2) { table.remove(hash: KeyTable.hash(keys[i]), Int32(i)) }
        #expect(table.count == keys.count / 2)
        for (i, k) in keys.enumerated() {
            let found = table.find(hash: KeyTable.hash(k)) { keys[Int($0)] == k }
            #expect(found == (i % 2 == 0 ? nil : Int32(i)))
        }
    }

    @Test func windowGroupsCanonicallyEquivalentKeys() throws {
        let h = StepHarness(try makeWindow("window: { key: unit, tumbling: 1m, aggregate: { n: count() } }"))
        h.send(["unit": "K"], time: 1000)
        h.send(["unit": "\u{212A}"], time: 2000)
        h.send(["unit": "C"], time: 3000)
        h.advance(to: .max)
        #expect(h.take().map { $0["n"] } == [2, 1])
    }
}
