import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps

// What the Benchmarks package (Benchmarks/, a package of its own so that package-benchmark
// stays out of the main build) measures below the public API: a stream's step chain, the
// rings between stages, the JSON reader and writer, and compiled expressions. Under SPI
// (`@_spi(Benchmarks) import Sluice`), so it is not part of the public API, and here in
// the façade rather than on the internal types themselves: an SPI declaration cannot be
// used by the package's own inlinable code, which reaches all of these. The wrappers are
// inlinable, so a benchmark measures the same code as before.

/// A fresh chain of a stream's steps, driven batch by batch as a stage drives it.
@_spi(Benchmarks) public final class BenchmarkChain {
    @usableFromInline let chain: StepChain

    /// The chain of `stream` in `pipeline`.
    public init(_ pipeline: Pipeline, stream: String = "main") { chain = pipeline.makeChain(stream: stream) }

    /// A chain without steps.
    public init() { chain = StepChain([]) }

    /// True when some step's results depend on the watermark.
    public var usesWatermarks: Bool { chain.usesWatermarks }

    /// Runs `events` through every step (see `StepChain.process`).
    @inlinable
    public func process(
        _ events: [Event], watermark: Int64, sides: inout [(port: Int, event: Event)], stamped: Bool = false
    ) -> [Event] {
        chain.process(events, watermark: watermark, sides: &sides, stamped: stamped)
    }

    /// Advances every step to `watermark` (see `StepChain.advance`).
    @inlinable
    public func advance(watermark: Int64, sides: inout [(port: Int, event: Event)]) -> [Event] {
        chain.advance(watermark: watermark, sides: &sides)
    }
}

extension Event {
    /// The watermark the source had just before this event (what a stamped chain reads).
    @_spi(Benchmarks) public var sourceWatermark: Int64 {
        @inlinable get { watermark }
        @inlinable set { watermark = newValue }
    }
}

/// A ring between two stages carrying batches, as the runtime uses it.
@_spi(Benchmarks) public final class BenchmarkRing: Sendable {
    @usableFromInline let ring: SPSCRing<Message>

    public init(capacity: Int) { ring = SPSCRing(capacity: capacity) }

    /// Pushes a batch, waiting while the ring is full.
    @inlinable public func push(_ events: [Event]) { ring.push(.events(events)) }

    /// Pushes the end of input.
    @inlinable public func pushEnd() { ring.push(.end) }

    /// The next batch, waiting while the ring is empty: empty for a watermark, nil at the end.
    @inlinable
    public func pop() -> [Event]? {
        switch ring.pop() {
        case .events(let es), .sequenced(let es, _): return es
        case .watermark, .barrier: return []
        case .end: return nil
        }
    }
}

/// The JSON reader and writer.
@_spi(Benchmarks) public enum BenchmarkJSON {
    /// Parses one JSON text; nil when it is malformed.
    @inlinable public static func parse(_ bytes: [UInt8]) -> JSON? { try? JSONParser.parse(bytes) }

    /// True when `bytes` are well-formed JSON (checked without building a value).
    @inlinable
    public static func isValid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { JSONParser.validate($0) == nil } }

    /// The top-level field `key` of the object in `bytes`, scanned without parsing the rest.
    @inlinable
    public static func field(_ key: String, in bytes: [UInt8]) -> JSON? {
        bytes.withUnsafeBytes { JSONParser.field(key, in: $0) }
    }

    /// Appends the JSON text of `value` to `out`.
    @inlinable public static func write(_ value: JSON, into out: inout [UInt8]) { JSONWriter.write(value, into: &out) }
}

/// Reads JSON lines from a file descriptor and copies each value's bytes back out, as a
/// pipeline without steps does.
@_spi(Benchmarks) public struct BenchmarkLineCopier {
    @usableFromInline var reader: JSONStreamReader

    public init(fd: Int32) { reader = JSONStreamReader(fd: fd) }

    /// Reads the next chunk and appends each value's bytes and a newline to `out`,
    /// emptying `out` whenever it passes 256 KiB; false at the end of input (or on a
    /// read error).
    @inlinable
    public mutating func copyNextChunk(into out: inout [UInt8]) -> Bool {
        guard let chunk = try? reader.next() else { return false }
        for v in chunk.values {
            out.append(contentsOf: chunk.buffer.bytes(v.start, v.count))
            out.append(0x0A)
            if out.count > 256 << 10 { out.removeAll(keepingCapacity: true) }
        }
        return true
    }
}

/// A compiled CEL condition with the activation a filter step evaluates it on.
@_spi(Benchmarks) public struct BenchmarkCondition {
    @usableFromInline let expression: Expression
    @usableFromInline let activation: EventActivation

    public init(_ source: String) throws {
        let compiler = ExpressionCompiler()
        expression = try compiler.compile(source: source)
        activation = compiler.activation()
    }

    /// Evaluates on `event` lent in place (as the filter step does); nil when the event
    /// cannot be bound that way.
    @inlinable
    public func evaluateInPlace(_ event: borrowing Event) -> Bool? {
        activation.withEventInPlace(event) { try? expression.evaluateBool(activation) } ?? nil
    }

    /// Evaluates after setting `event` on the activation (a copy).
    @inlinable
    public func evaluateSetting(_ event: Event) -> Bool? {
        activation.event = event
        return try? expression.evaluateBool(activation)
    }
}

/// The first stateful step of a stream, checkpointed as the runtime does it: events in,
/// then its state snapshot (``snapshot()``) and restored into a fresh instance
/// (``restoreIntoFresh()``), for the checkpoint benchmarks.
@_spi(Benchmarks) public final class BenchmarkCheckpoint {
    let make: () -> (any Step)?
    var step: any Step
    var state: StepState?

    /// The first step of `stream` in `pipeline` that keeps checkpointed state; nil when none does.
    public init?(_ pipeline: Pipeline, stream: String = "main") {
        let make = { pipeline.makeSteps(stream: stream).first { checkpointView(of: $0) != nil } }
        guard let step = make() else { return nil }
        self.make = make
        self.step = step
    }

    /// Runs `events` through the step at `watermark` (outputs are dropped).
    public func process(_ events: [Event], watermark: Int64) {
        var out = StepOutput()
        out.watermark = watermark
        step.process(batch: events, into: &out)
    }

    /// The step's open state (windows, partial matches, buffered events).
    public var stateSize: Int { step.stateSize }

    /// Takes a snapshot of the step's state and returns its size in bytes.
    public func snapshot() throws -> Int {
        guard let view = checkpointView(of: step) else { return 0 }
        let s = try view.snapshotState()
        state = s
        return s.shared.count + s.groups.values.reduce(0) { $0 + $1.count }
    }

    /// Restores the last snapshot into a fresh instance of the step, which then replaces
    /// this one; returns the restored step's open state.
    public func restoreIntoFresh() throws -> Int {
        guard let state, let fresh = make(), let view = checkpointView(of: fresh) else { return 0 }
        try view.restoreState([state], owns: { _ in true })
        step = fresh
        return fresh.stateSize
    }
}
