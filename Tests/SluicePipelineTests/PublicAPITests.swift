import Sluice
import Synchronization
import Testing

/// The public surface of `import Sluice` beyond the worked example: `run`, `cancel`, and a
/// custom step (a plain `Step`, which reads events by value) in an event-time stream.
@Suite struct PublicAPITests {
    @Test func runStartsAndAwaitsTheOutcome() async throws {
        let pipeline = try Pipeline.compile(yaml: "steps: [ { filter: 'n > 1' } ]")
        let input = PushInput(name: "in")
        let output = AsyncOutput(name: "out")
        var options = RunOptions()
        options.bind(input: "in", to: input)
        options.bind(output: "out", to: output)
        let reader = Task {
            var got: [JSON] = []
            for await e in output { got.append(e) }
            return got
        }
        let sender = Task {
            for n in 0..<4 { await input.send(["n": .int(Int64(n))]) }
            input.finish()
        }
        #expect(try await pipeline.run(options) == .completed)
        await sender.value
        #expect(await reader.value == [["n": 2], ["n": 3]])
    }

    @Test func cancelEndsARunWhoseInputNeverFinishes() async throws {
        let pipeline = try Pipeline.compile(yaml: "steps: [ { filter: 'true' } ]")
        let input = PushInput(name: "in")
        let output = AsyncOutput(name: "out")
        var options = RunOptions()
        options.bind(input: "in", to: input)
        options.bind(output: "out", to: output)
        let run = try pipeline.start(options)
        let reader = Task {
            var n = 0
            for await _ in output { n += 1 }
            return n
        }
        #expect(await input.send(["a": 1]))
        run.cancel()
        #expect(await run.finished() == .completed)
        #expect(await reader.value <= 1)
    }

    /// Records the watermark each event arrives at.
    final class WatermarkProbe: Step {
        let seen: Seen
        init(_ seen: Seen) { self.seen = seen }
        func process(_ event: Event, into out: inout StepOutput) {
            let wm = out.watermark
            seen.watermarks.withLock { $0.append(wm) }
            out.emit(event)
        }
    }

    final class Seen: Sendable {
        let watermarks = Mutex<[Int64]>([])
    }

    /// A custom step that uses watermarks is driven event by event (as the built-in
    /// time-sensitive steps are, which read events in place): within one batch, each event
    /// arrives at the watermark the source had just before it.
    @Test func aCustomTimeSensitiveStepSeesTheWatermarkMoveWithinABatch() throws {
        let seen = Seen()
        var registry = StepRegistry.standard
        registry.register(
            StepDefinition(kind: "probe", summary: "Record watermarks.", traits: .usesWatermarks) { _ in
                { WatermarkProbe(seen) }
            })
        let pipeline = try Pipeline.compile(
            yaml: "time: { field: ts, lateness: 0s }\nsteps: [ { probe: {} } ]", registry: registry)
        let items = (1...5).map { InputItem.event(["ts": .int(Int64($0) * 1000)]) }
        let (outputs, outcome) = try pipeline.collect(["in": items])
        #expect(outcome == .completed)
        #expect(outputs["out"]?.count == 5)
        let marks = seen.watermarks.withLock { $0 }
        #expect(marks.count == 5)
        #expect(marks == marks.sorted())
        #expect(Set(marks).count > 1, "the watermark did not move within the batch: \(marks)")
    }

    /// A custom step opts in to checkpoints with `CheckpointableStep`, through `import
    /// Sluice` alone (docs/embedding.md, "Custom steps and checkpoints").
    final class Counter: CheckpointableStep {
        var n: Int64 = 0
        func process(_ event: Event, into out: inout StepOutput) {
            n += 1
            out.emit(event)
        }
        func checkpointState() throws -> JSON { ["n": .int(n)] }
        func restoreState(_ state: JSON) throws {
            if case .int(let v)? = state["n"] { n = v }
        }
    }

    @Test func aCustomStepOptsInToCheckpoints() throws {
        let a = Counter()
        var out = StepOutput()
        for _ in 0..<3 { a.process(Event(["x": 1]), into: &out) }
        let b = Counter()
        try b.restoreState(try a.checkpointState())
        #expect(b.n == 3)
    }
}
