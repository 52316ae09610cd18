import Dispatch

/// Counters for one step, owned by its stage thread and read after the run (or, for the
/// progress line, read racily as a rough figure).
public struct StepStats: Sendable {
    public var name: String
    public var kind: String
    public var eventsIn = 0
    public var eventsOut = 0
    public var sideOut = 0
    public var rejected = 0
    /// Events sent to `late`.
    public var late = 0
    /// Time spent inside the step, in nanoseconds (measured only when stats are on).
    public var nanos: UInt64 = 0

    public init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}

/// The steps of one stream, run in order inside one stage with direct calls: no queue hop
/// between steps.
public final class StepChain {
    /// A step and what to call it.
    public struct Entry {
        public var step: any Step
        public var name: String
        public var kind: String
        public init(step: any Step, name: String, kind: String) {
            self.step = step
            self.name = name
            self.kind = kind
        }
    }

    let steps: [any Step]
    /// Per-step counters, in step order.
    public private(set) var stats: [StepStats]
    /// Measure time per step (costs two clock reads per step per batch).
    public var timing = false
    /// The first stop request of a step (see ``StepOutput/stop(_:)``).
    public private(set) var stopRequested: String?
    private var scratch = StepOutput()
    private var spare: [Event] = []

    public init(_ entries: [Entry]) {
        steps = entries.map(\.step)
        stats = entries.map { StepStats(name: $0.name, kind: $0.kind) }
    }

    /// True when some step's results depend on the watermark.
    public var usesWatermarks: Bool { steps.contains { $0.usesWatermarks } }

    /// Runs events one at a time, first advancing to each event's own watermark (see
    /// ``Event/watermark``), so windows close and late events are judged exactly where
    /// the source's watermark moved. `watermark` is the stage's, updated in place.
    public func processTimed(_ events: [Event], watermark: inout Int64, sides: inout [(port: Int, event: Event)]) -> [Event] {
        var result: [Event] = []
        var one: [Event] = []
        one.reserveCapacity(1)
        for e in events {
            if e.watermark > watermark {
                watermark = e.watermark
                result += advance(watermark: watermark, sides: &sides)
            }
            one.removeAll(keepingCapacity: true)
            one.append(e)
            result += process(one, watermark: watermark, sides: &sides)
        }
        return result
    }

    /// True when there are no steps (a pass-through stream).
    public var isEmpty: Bool { steps.isEmpty }

    /// Open state summed over the steps.
    public var stateSize: Int { steps.reduce(0) { $0 + $1.stateSize } }

    /// Runs `events` through every step; side output events are appended to `sides`.
    public func process(_ events: [Event], watermark: Int64, sides: inout [(port: Int, event: Event)]) -> [Event] {
        if steps.isEmpty { return events }
        var current = events
        for i in steps.indices {
            let step = steps[i]
            var out = scratch
            out.events = spare
            out.events.removeAll(keepingCapacity: true)
            out.sides.removeAll(keepingCapacity: true)
            out.watermark = watermark
            out.rejectedCount = 0
            out.stopRequested = nil
            let t0 = timing ? DispatchTime.now().uptimeNanoseconds : 0
            for e in current { step.process(e, into: &out) }
            if let s = out.stopRequested, stopRequested == nil { stopRequested = "\(stats[i].name): \(s)" }
            if timing { stats[i].nanos &+= DispatchTime.now().uptimeNanoseconds &- t0 }
            stats[i].eventsIn += current.count
            stats[i].eventsOut += out.events.count
            stats[i].sideOut += out.sides.count
            stats[i].rejected += out.rejectedCount
            for s in out.sides where s.port == SidePort.late { stats[i].late += 1 }
            sides.append(contentsOf: out.sides)
            spare = current
            current = out.events
            out.events = []
            scratch = out
            if current.isEmpty { break }
        }
        // `spare` may alias the caller's array; drop it so the next batch allocates its own
        // output instead of copying on write.
        spare = []
        return current
    }

    /// Lets every step react to a watermark; what a step emits flows through the steps
    /// after it before they see the watermark themselves.
    public func advance(watermark: Int64, sides: inout [(port: Int, event: Event)]) -> [Event] {
        var carry: [Event] = []
        for i in steps.indices {
            let step = steps[i]
            var out = StepOutput()
            out.watermark = watermark
            let t0 = timing ? DispatchTime.now().uptimeNanoseconds : 0
            for e in carry { step.process(e, into: &out) }
            stats[i].eventsIn += carry.count
            step.advance(watermark: watermark, into: &out)
            if let s = out.stopRequested, stopRequested == nil { stopRequested = "\(stats[i].name): \(s)" }
            if timing { stats[i].nanos &+= DispatchTime.now().uptimeNanoseconds &- t0 }
            stats[i].eventsOut += out.events.count
            stats[i].sideOut += out.sides.count
            stats[i].rejected += out.rejectedCount
            for s in out.sides where s.port == SidePort.late { stats[i].late += 1 }
            sides.append(contentsOf: out.sides)
            carry = out.events
        }
        return carry
    }
}
