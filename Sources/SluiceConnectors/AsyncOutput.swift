import Dispatch
import SluiceCore
import SluiceJSON
import Synchronization

/// An output read by the embedding program as an `AsyncSequence` of JSON values.
///
/// The engine's sink thread waits while `capacity` values are unread, so a slow reader
/// slows the pipeline instead of growing memory. Iterate it once. A consumer that stops
/// (breaks out of `for await`, drops its iterator, or whose task is cancelled) is like a
/// reader closing a pipe: the run stops quietly, ending with
/// ``Execution/Outcome/outputClosed``. When the run is cancelled, the sink stops
/// waiting for room, so the run ends even if nobody reads; what was in flight stays
/// readable. The logic is ``AsyncOutputStateMachine``.
public final class AsyncOutput: EventSink, AsyncSequence, Sendable, RunCancellable {
    public typealias Element = JSON

    public let name: String
    public let capacity: Int
    private let state: Mutex<AsyncOutputStateMachine<CheckedContinuation<JSON?, Never>>>
    /// The sink thread sleeps here while the buffer is full.
    private let space = DispatchSemaphore(value: 0)

    public init(name: String, capacity: Int = 1024) {
        self.name = name
        self.capacity = Swift.max(1, capacity)
        state = Mutex(AsyncOutputStateMachine(capacity: capacity))
    }

    @usableFromInline package func write(_ events: [Event]) throws {
        for e in events {
            switch state.withLock({ $0.write(e.value) }) {
            case .none: break
            case .resume(let reader, let value): reader.resume(returning: value)
            case .wait: space.wait()
            case .consumerGone: throw SinkError.closed
            }
        }
    }

    @usableFromInline package func close() throws {
        state.withLock { $0.close() }?.resume(returning: nil)
    }

    @usableFromInline package func runCancelled() {
        if state.withLock({ $0.runCancelled() }) { space.signal() }
    }

    func consumerGone() {
        let (reader, wake) = state.withLock { $0.consumerGone() }
        reader?.resume(returning: nil)
        if wake { space.signal() }
    }

    func next() async -> JSON? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<JSON?, Never>) in
                switch state.withLock({ $0.next(c) }) {
                case .resume(let reader, let value, let wake):
                    if wake { space.signal() }
                    reader.resume(returning: value)
                case .suspended:
                    break
                }
            }
        } onCancel: {
            consumerGone()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        /// Tells the output when the last copy of the iterator goes away.
        final class Handle: Sendable {
            let output: AsyncOutput
            init(_ output: AsyncOutput) { self.output = output }
            deinit { output.consumerGone() }
        }
        let handle: Handle
        public mutating func next() async -> JSON? { await handle.output.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: AsyncIterator.Handle(self)) }
}

/// A sink that keeps every event in memory (for tests and `sluice test`).
@usableFromInline package final class CollectingSink: EventSink, Sendable {
    @usableFromInline package let name: String
    private let store = Mutex<[Event]>([])

    @usableFromInline package init(name: String) { self.name = name }

    @usableFromInline package func write(_ events: [Event]) throws {
        store.withLock { $0 += events }
    }

    /// Everything written so far.
    @usableFromInline package var events: [Event] { store.withLock { $0 } }
}
