import Dispatch
import SluiceCore
import SluiceJSON
import Synchronization

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
///
/// A send returns false when its event was not taken: the input was finished, the run
/// was cancelled (which ends the input at once), or the sending task was cancelled while
/// it waited for room. The logic is ``PushInputStateMachine``.
public final class PushInput: EventSource, Sendable {
    public let name: String
    /// Events buffered at most before `send` suspends.
    public let capacity: Int
    private let state: Mutex<PushInputStateMachine<CheckedContinuation<Bool, Never>>>
    /// The engine's source thread sleeps here while nothing was sent.
    private let dataReady = DispatchSemaphore(value: 0)
    /// Ids for waiting senders.
    private let ids = Mutex(0)

    public init(name: String, capacity: Int = 1024) {
        self.name = name
        self.capacity = max(1, capacity)
        state = Mutex(PushInputStateMachine(capacity: capacity))
    }

    /// Adds one event, suspending while `capacity` events are already waiting.
    @discardableResult
    public func send(_ value: JSON) async -> Bool {
        await send(Event(value))
    }

    /// Adds one event (with its time, if set), suspending while the buffer is full.
    /// Returns whether it was taken.
    @discardableResult
    public func send(_ event: Event) async -> Bool {
        while true {
            switch state.withLock({ $0.offer(event) }) {
            case .accepted(let wake):
                if wake { dataReady.signal() }
                return true
            case .closed:
                return false
            case .full:
                let id = ids.withLock { n in
                    n += 1
                    return n
                }
                let again = await withTaskCancellationHandler {
                    await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                        if case .resume(let sender, let answer) = state.withLock({ $0.suspend(id: id, c) }) {
                            sender.resume(returning: answer)
                        }
                    }
                } onCancel: {
                    state.withLock { $0.senderCancelled(id: id) }?.resume(returning: false)
                }
                if !again || Task.isCancelled { return false }
            }
        }
    }

    /// Feeds every element of `sequence`, then finishes the input.
    public func feed<S: AsyncSequence & Sendable>(_ sequence: S) async throws where S.Element == JSON {
        for try await v in sequence {
            if !(await send(v)) { break }
        }
        finish()
    }

    /// Ends the input: the pipeline sees the end once what was sent is processed.
    public func finish() {
        let (senders, wake) = state.withLock { $0.finish() }
        for c in senders { c.resume(returning: false) }
        if wake { dataReady.signal() }
    }

    func runCancelled() {
        let (senders, wake) = state.withLock { $0.runCancelled() }
        for c in senders { c.resume(returning: false) }
        if wake { dataReady.signal() }
    }

    @usableFromInline package func run(_ out: SourceOutput) throws {
        out.onCancel { [self] in runCancelled() }
        while true {
            switch state.withLock({ $0.take() }) {
            case .events(let events, let senders):
                for c in senders { c.resume(returning: true) }
                out.emit(events)
            case .wait:
                dataReady.wait()
            case .end:
                return
            }
        }
    }
}
