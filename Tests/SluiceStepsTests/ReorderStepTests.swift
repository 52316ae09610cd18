import PropertyBased
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import Testing

@Suite struct ReorderStepTests {
    func step(_ yaml: String = "reorder: {}") throws -> (StepHarness, any Step) {
        let s = try compileStep(yaml).get()
        return (StepHarness(s), s)
    }

    @Test func emitsInTimeOrderAsTheWatermarkPasses() throws {
        let (h, s) = try step()
        h.send(["n": 1], time: 30)
        h.send(["n": 2], time: 10)
        h.send(["n": 3], time: 20)
        h.send(["n": 4], time: 10)
        #expect(h.take().isEmpty)
        #expect(s.stateSize == 4)
        h.advance(to: 20)
        #expect(h.take().map { $0["n"] } == [2, 4, 3])
        #expect(s.stateSize == 1)
        h.send(["n": 5], time: 15)  // behind the watermark: late
        h.send(["n": 6], time: 20)  // at the watermark: nothing buffered precedes it
        #expect(h.take().map { $0["n"] } == [6])
        #expect(h.sides[SidePort.late]?.map { $0.value["n"] } == [5])
        h.advance(to: Int64.max)
        #expect(h.take().map { $0["n"] } == [1])
        #expect(s.stateSize == 0)
    }

    @Test func maxBufferEmitsTheEarliestEarly() throws {
        let (h, s) = try step("reorder: { max_buffer: 2 }")
        h.send(["n": 1], time: 50)
        h.send(["n": 2], time: 40)
        h.send(["n": 3], time: 60)  // buffer full: 40 goes
        #expect(h.take().map { $0["n"] } == [2])
        #expect(s.stateSize == 2)
        h.send(["n": 4], time: 30)  // earlier than what was emitted: late
        #expect(h.sides[SidePort.late]?.map { $0.value["n"] } == [4])
        h.advance(to: Int64.max)
        #expect(h.take().map { $0["n"] } == [1, 3])
    }

    /// Issue 14 item 14: events a full buffer emits early are counted for `--stats`.
    @Test func maxBufferCountsTheEventsEmittedEarly() throws {
        let (h, s) = try step("reorder: { max_buffer: 2 }")
        #expect(s.counters.map(\.name) == ["emitted_early"])
        for t: Int64 in [50, 40, 60, 70, 45] { h.send(["t": .int(t)], time: t) }
        // 40 then 50 go early; 45 is then behind what was emitted: late.
        #expect(h.take().map { $0["t"] } == [40, 50])
        #expect((s as? ReorderStep)?.emittedEarlyCount == 2)
        #expect(s.counters.map(\.value) == [2])
        h.advance(to: 60)  // in time: not counted
        #expect(h.take().map { $0["t"] } == [60])
        #expect(s.counters.map(\.value) == [2])
        #expect(h.sides[SidePort.late]?.count == 1)
    }

    @Test func checkWarnsWhenTheBufferHasNoBound() throws {
        func warnings(_ yaml: String) -> [String] {
            guard
                case .success(let p) = Result(catching: { () throws(Diagnostics) in
                    try Pipeline.compile(yaml: "steps:\n  - " + yaml, file: "p.yaml")
                })
            else { return ["did not compile"] }
            return p.warnings.items.map(\.message)
        }
        #expect(
            warnings("reorder: {}") == [
                "'reorder' buffers every event until the watermark passes it, with no limit on how many (its memory grows with the input's disorder and 'time.lateness')"
            ])
        #expect(warnings("reorder: { max_buffer: 10000 }").isEmpty)
    }

    @Test func configErrors() {
        guard case .failure(let d) = compileStep("reorder: { max_buffer: 0 }") else {
            Issue.record("compiled")
            return
        }
        #expect(d.items.map(\.message) == ["'max_buffer' in 'reorder' must be at least 1, found 0"])
        guard case .failure(let d2) = compileStep("reorder: { max_bufer: 3 }") else {
            Issue.record("compiled")
            return
        }
        #expect(
            d2.items.first { $0.severity == .error }?.message
                == "unknown key 'max_bufer' in 'reorder'; did you mean 'max_buffer'?")
    }

    /// Random arrival orders with random watermark advances (lagging the largest time
    /// seen, as with `time.lateness`): main output is sorted by time and stable, and main
    /// plus late is exactly the input.
    @Test func outputIsSortedStableAndComplete() async {
        // max_buffer (0: none), lateness; then per event its time and whether the
        // watermark advances after it.
        let params = zip(Gen.int(in: 0...8), Gen.int64(in: 0...50))
        let events = zip(Gen.int64(in: 0...300), Gen.bool(0.2)).array(of: 0...200)
        await propertyCheck(count: 300, input: params, events) { p, events in
            let (maxBuffer, lateness) = p
            let (h, s): (StepHarness, any Step)
            do { (h, s) = try step(maxBuffer == 0 ? "reorder: {}" : "reorder: { max_buffer: \(maxBuffer) }") } catch {
                Issue.record("compile: \(error)")
                return
            }
            var maxSeen = Int64.min
            var sent: [JSON] = []
            for (i, (t, advance)) in events.enumerated() {
                let value: JSON = ["i": .int(Int64(i)), "t": .int(t)]
                sent.append(value)
                h.send(value, time: t)
                maxSeen = max(maxSeen, t)
                if advance, maxSeen - lateness > h.watermark {
                    h.advance(to: maxSeen - lateness)
                }
            }
            h.advance(to: Int64.max)
            #expect(s.stateSize == 0)
            let main = h.take()
            let late = (h.sides[SidePort.late] ?? []).map(\.value)
            for (a, b) in zip(main, main.dropFirst()) {
                let ta = a["t"]?.numberValue ?? 0, tb = b["t"]?.numberValue ?? 0
                #expect(ta < tb || (ta == tb && (a["i"]?.numberValue ?? 0) < (b["i"]?.numberValue ?? 0)))
            }
            let key: (JSON) -> Double = { $0["i"]?.numberValue ?? -1 }
            #expect((main + late).map(key).sorted() == sent.map(key))
        }
    }
}
