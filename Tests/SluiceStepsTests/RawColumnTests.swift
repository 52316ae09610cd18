import SluiceJSON
import Testing

@testable import SluiceSteps

/// ``RawColumn`` and ``PatternKeyTable`` own their memory: it is freed, and the elements
/// destroyed, when they go, with no release call to forget.
@Suite struct RawColumnTests {
    final class Tracked {
        let id: Int
        init(_ id: Int) { self.id = id }
    }

    @Test func elementsAreDestroyedWhenTheColumnGoes() {
        var watched: [() -> Tracked?] = []
        do {
            var column = RawColumn<Tracked>(capacity: 2)
            for i in 0..<100 {
                let t = Tracked(i)
                weak let w = t
                watched.append { w }
                column.append(t)
            }
            // Growing moved them: all still there, in order.
            #expect(column.count == 100)
            #expect((0..<100).allSatisfy { column[$0].id == $0 })
            let last = column.removeLast()
            #expect(last.id == 99)
            #expect(watched.allSatisfy { $0() != nil })
        }
        #expect(watched.allSatisfy { $0() == nil })
    }

    @Test func keyTableFindsEveryKeyAcrossGrowth() {
        var table = PatternKeyTable()
        for k in 0..<1000 {
            table.insert(hash: UInt64(k) &* 0x9E37_79B9_7F4A_7C15, print: .inexact, Int32(k))
        }
        #expect(table.count == 1000)
        for k in [0, 1, 17, 500, 999] {
            let found = table.find(hash: UInt64(k) &* 0x9E37_79B9_7F4A_7C15, print: .inexact) { $0 == Int32(k) }
            #expect(found == Int32(k))
        }
        #expect(table.find(hash: 12345, print: .inexact) { _ in false } == nil)
    }
}
