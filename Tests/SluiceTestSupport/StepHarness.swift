import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps

/// Drives one step synchronously, with no threads: feed events and watermarks, read what
/// came out (as swift-nio's EmbeddedChannel does for handlers).
///
/// ``Path`` picks which of the step's entry points an event goes through: the stages of a
/// running pipeline call ``Step/process(at:into:)`` (time-sensitive steps) or
/// ``Step/process(batch:into:)``, and each must give what ``Step/process(_:into:)`` gives.
package final class StepHarness {
    /// The entry point ``send(_:time:)`` calls.
    package enum Path: CaseIterable, Sendable {
        /// ``Step/process(_:into:)``, the event passed by value.
        case value
        /// ``Step/process(at:into:)``, the event lent where it is.
        case pointer
        /// ``Step/process(batch:into:)``, with a batch of one event.
        case batch
    }

    package let step: any Step
    package let path: Path
    package var watermark = Int64.min
    /// Main output so far.
    package var emitted: [Event] = []
    /// Side outputs so far, by port.
    package var sides: [Int: [Event]] = [:]

    package init(_ step: any Step, path: Path = .value) {
        self.step = step
        self.path = path
    }

    /// Sends one event (with `time` as its event time when given).
    package func send(_ value: JSON, time: Int64? = nil) {
        var e = Event(value)
        if let time { e.time = time }
        send(e)
    }

    /// Sends one event as it is (a raw event, one with offsets, ...).
    package func send(_ e: Event) {
        var out = StepOutput()
        out.watermark = watermark
        switch path {
        case .value: step.process(e, into: &out)
        case .pointer:
            if let step = step as? any InPlaceStep {
                withUnsafePointer(to: e) { step.process(at: $0, into: &out) }
            } else {
                step.process(e, into: &out)
            }
        case .batch: step.process(batch: [e], into: &out)
        }
        collect(out)
    }

    /// Sends events as one batch through ``Step/process(batch:into:)`` (whatever
    /// ``path`` is), at the current watermark.
    package func send(batch events: [Event]) {
        var out = StepOutput()
        out.watermark = watermark
        step.process(batch: events, into: &out)
        collect(out)
    }

    /// Advances the watermark (Int64.max is the end of input).
    package func advance(to w: Int64) {
        watermark = w
        var out = StepOutput()
        out.watermark = w
        step.advance(watermark: w, into: &out)
        collect(out)
    }

    package func collect(_ out: StepOutput) {
        emitted += out.events
        for (p, e) in out.sides { sides[p, default: []].append(e) }
    }

    /// Main output values, and clears them.
    package func take() -> [JSON] {
        defer { emitted = [] }
        return emitted.map(\.value)
    }
}
