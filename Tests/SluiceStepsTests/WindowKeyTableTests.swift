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
        ]
        for (a, b) in pairs {
            #expect(a == b)
            #expect(KeyTable.hash(a) == KeyTable.hash(b), "\(a) and \(b)")
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
