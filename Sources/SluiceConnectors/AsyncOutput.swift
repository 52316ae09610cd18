import Dispatch
import Synchronization
import SluiceCore
import SluiceJSON

/// An output read by the embedding program as an `AsyncSequence` of JSON values.
///
/// The engine's sink thread waits while `capacity` values are unread, so a slow reader
/// slows the pipeline instead of growing memory. Iterate it once.
public final class AsyncOutput: EventSink, AsyncSequence, Sendable {
    public typealias Element = JSON

    struct State {
        var buffer: [JSON] = []
        var head = 0
        var finished = false
        var reader: CheckedContinuation<JSON?, Never>?
        var writerWaiting = false
    }

    public let name: String
    public let capacity: Int
    private let state = Mutex(State())
    private let space = DispatchSemaphore(value: 0)

    public init(name: String, capacity: Int = 1024) {
        self.name = name
        self.capacity = Swift.max(1, capacity)
    }

    public func write(_ events: [Event]) throws {
        for e in events {
            let v = e.value
            let mustWait = state.withLock { s -> Bool in
                if let r = s.reader {
                    s.reader = nil
                    r.resume(returning: v)
                    return false
                }
                s.buffer.append(v)
                if s.buffer.count - s.head >= capacity {
                    s.writerWaiting = true
                    return true
                }
                return false
            }
            if mustWait { space.wait() }
        }
    }

    public func close() throws {
        state.withLock { s in
            s.finished = true
            if let r = s.reader {
                s.reader = nil
                r.resume(returning: nil)
            }
        }
    }

    func next() async -> JSON? {
        await withCheckedContinuation { (c: CheckedContinuation<JSON?, Never>) in
            let (value, wake) = state.withLock { s -> (JSON??, Bool) in
                if s.head < s.buffer.count {
                    let v = s.buffer[s.head]
                    s.head += 1
                    if s.head > 1024 && s.head * 2 > s.buffer.count {
                        s.buffer.removeFirst(s.head)
                        s.head = 0
                    }
                    let wake = s.writerWaiting && s.buffer.count - s.head < capacity
                    if wake { s.writerWaiting = false }
                    return (.some(v), wake)
                }
                if s.finished { return (.some(nil), false) }
                s.reader = c
                return (nil, false)
            }
            if wake { space.signal() }
            if let value { c.resume(returning: value) }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let output: AsyncOutput
        public mutating func next() async -> JSON? { await output.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(output: self) }
}

/// A sink that keeps every event in memory (for tests and `sluice test`).
public final class CollectingSink: EventSink, Sendable {
    public let name: String
    private let store = Mutex<[Event]>([])

    public init(name: String) { self.name = name }

    public func write(_ events: [Event]) throws {
        store.withLock { $0 += events }
    }

    /// Everything written so far.
    public var events: [Event] { store.withLock { $0 } }
}
