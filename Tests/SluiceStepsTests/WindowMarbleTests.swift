import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// The timing of emissions, drawn as marble pictures. In the input, position `i` is time
/// `i` ms: a letter is an event of key `letter` at that time, `-` is nothing, `|` advances
/// the watermark to `i`, and a final `$` is the end of input. The output picture has, at
/// each position, how many windows that step emitted (`-` for none).
@Suite struct WindowMarbleTests {
    func marble(_ picture: String, _ config: String) throws -> (picture: String, out: [JSON]) {
        let step = try makeWindow("window: { key: k, \(config), aggregate: { n: count(), ids: collect(id) } }")
        var ops: [WindowOp] = []
        for (i, ch) in picture.enumerated() {
            switch ch {
            case "-": ops.append(.advance(Int64.min))  // a no-op keeps positions aligned
            case "|": ops.append(.advance(Int64(i)))
            case "$": ops.append(.advance(Int64.max))
            default: ops.append(.event(["k": .string(String(ch)), "id": .int(Int64(i))], time: Int64(i)))
            }
        }
        let run = runOps(step, ops)
        var counts = [Int](repeating: 0, count: ops.count)
        for e in run.out { counts[e.op] += 1 }
        return (String(counts.map { $0 == 0 ? "-" : Character(String($0)) }), run.out.map(\.value))
    }

    @Test func tumblingFiresWhenTheWatermarkReachesTheLastInstant() throws {
        let (p, out) = try marble("a-a--|--c|$", "tumbling: 5ms")
        #expect(p == "-----1---1-")
        #expect(out.map { $0["ids"] } == [[0, 2], [8]])
    }

    @Test func aWatermarkOneShortOfTheEndFiresNothing() throws {
        let (p, _) = try marble("a--|-|$", "tumbling: 5ms")
        #expect(p == "-----1-")
        let (q, _) = try marble("a---|$", "tumbling: 5ms")
        #expect(q == "----1-")
    }

    @Test func endOfInputClosesEverything() throws {
        let (p, out) = try marble("ab-a-b-a$", "tumbling: 3ms")
        #expect(p == "--------5")
        #expect(out.map { $0["ids"] } == [[0], [1], [3], [5], [7]])
    }

    @Test func oneAdvanceClosingSeveralWindowsEmitsThemInEndOrder() throws {
        let (p, out) = try marble("ba-ab-ba------|$", "tumbling: 3ms")
        #expect(p == "--------------6-")
        #expect(out.map { $0["k"] } == ["b", "a", "a", "b", "b", "a"])
        #expect(out.map { $0["window_start"] } == [0, 0, 3, 3, 6, 6])
    }

    @Test func hoppingWindowsFireOnePerStep() throws {
        let (p, _) = try marble("a---|----|----|----|$", "hopping: { size: 10ms, every: 5ms }")
        #expect(p == "----1----1-----------")
    }

    @Test func sessionsFireAGapAfterTheirLastEvent() throws {
        let (p, out) = try marble("a-a-----|a---|---|$", "session: 3ms")
        #expect(p == "--------1----1-----")
        #expect(out.map { $0["window_end"] } == [5, 12])
    }

    @Test func countWindowsFireOnTheEventThatFillsThem() throws {
        let (p, out) = try marble("a-a-b-a-|$", "count: 2")
        #expect(p == "--1------2")
        #expect(out.map { $0["ids"] } == [[0, 2], [4], [6]])
    }
}
