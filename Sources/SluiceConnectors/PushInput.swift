import Dispatch
import Synchronization
import SluiceCore
import SluiceJSON

/// An input fed by the embedding program: `await input.send(event)` suspends while the
/// engine is full (backpressure), `finish()` ends the input.
///
/// ```swift
/// let input = PushInput(name: "in")
/// var options = RunOptions()
/// options.sources["in"] = input
/// let run = try pipeline.start(options)
/// await input.send(["amount": 300])
/// input.finish()
/// ```
public final class PushInput: EventSource, Sendable {
    struct State {
        var buffer: [Event] = []
        var finished = false
        var senders: [CheckedContinuation<Void, Never>] = []
        var readerWaiting = false
    }

    public let name: String
    /// Events buffered at most before `send` suspends.
    public let capacity: Int
    private let state = Mutex(State())
    private let dataReady = DispatchSemaphore(value: 0)

    public init(name: String, capacity: Int = 1024) {
        self.name = name
        self.capacity = max(1, capacity)
    }

    /// Adds one event, suspending while `capacity` events are already waiting.
    public func send(_ value: JSON) async {
        await send(Event(value))
    }

    /// Adds one event (with its time, if set), suspending while the buffer is full.
    public func send(_ event: Event) async {
        while true {
            let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
                guard s.buffer.count < capacity || s.finished else { return (false, false) }
                if !s.finished { s.buffer.append(event) }
                let wake = s.readerWaiting
                s.readerWaiting = false
                return (true, wake)
            }
            if accepted {
                if wake { dataReady.signal() }
                return
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.buffer.count < capacity || s.finished { return true }
                    s.senders.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    /// Feeds every element of `sequence`, then finishes the input.
    public func feed<S: AsyncSequence & Sendable>(_ sequence: S) async throws where S.Element == JSON {
        for try await v in sequence { await send(v) }
        finish()
    }

    /// Ends the input: the pipeline sees the end once what was sent is processed.
    public func finish() {
        let (wake, senders) = state.withLock { s -> (Bool, [CheckedContinuation<Void, Never>]) in
            s.finished = true
            let w = s.readerWaiting
            s.readerWaiting = false
            let waiting = s.senders
            s.senders = []
            return (w, waiting)
        }
        for c in senders { c.resume() }
        if wake { dataReady.signal() }
    }

    public func run(_ out: SourceOutput) throws {
        out.onCancel { [dataReady] in dataReady.signal() }
        while !out.isCancelled {
            let (events, finished, senders) = state.withLock { s -> ([Event], Bool, [CheckedContinuation<Void, Never>]) in
                let e = s.buffer
                s.buffer = []
                if e.isEmpty && !s.finished { s.readerWaiting = true }
                let waiting = s.senders
                s.senders = []
                return (e, s.finished, waiting)
            }
            for c in senders { c.resume() }
            if !events.isEmpty {
                out.emit(events)
                continue
            }
            if finished { return }
            dataReady.wait()
        }
    }
}
