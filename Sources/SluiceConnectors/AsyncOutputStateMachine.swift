import SluiceJSON

/// The state of an ``AsyncOutput``: what the sink thread (the writer) and the async
/// consumer (the reader) may do next. Every event is a method that changes the state and
/// returns the action its caller must take (resume a continuation, wake the writer, wait),
/// in the manner of swift-async-algorithms and `NIOAsyncSequenceProducer`; the methods
/// never block, call out or resume anything themselves, so the machine is tested without
/// threads. `Reader` is the consumer's continuation (generic so tests can use a token).
///
/// ```
///  streaming ──close()──▶ finished: buffered values, then nil
///      │
///      ├──consumerGone()──▶ consumer gone: buffer dropped, writes throw `SinkError.closed`
///      └──runCancelled()──▶ the writer no longer waits for room (the run is draining)
/// ```
@usableFromInline package struct AsyncOutputStateMachine<Reader> {
    @usableFromInline package let capacity: Int
    private var buffer: [JSON] = []
    private var head = 0
    /// The consumer waiting for a value.
    private var reader: Reader?
    /// The writer is waiting for room (one wake-up is owed to it).
    private var writerWaiting = false
    private var finished = false
    private var consumerLeft = false
    private var runStopped = false

    @usableFromInline package init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
    }

    /// Values buffered and not yet read.
    @usableFromInline package var buffered: Int { buffer.count - head }

    @usableFromInline package enum WriteAction {
        /// Stored; go on.
        case none
        /// Hand the value to this waiting reader.
        case resume(Reader, JSON)
        /// Stored, and the buffer is full: wait until woken (one wake-up will come).
        case wait
        /// The consumer is gone: the write fails (``SinkError/closed``).
        case consumerGone
    }

    /// The writer has a value.
    @usableFromInline package mutating func write(_ value: JSON) -> WriteAction {
        if consumerLeft { return .consumerGone }
        if let r = reader {
            reader = nil
            return .resume(r, value)
        }
        buffer.append(value)
        if buffered >= capacity && !runStopped {
            writerWaiting = true
            return .wait
        }
        return .none
    }

    @usableFromInline package enum NextAction {
        /// Resume the reader with this value (nil: the end), and wake the writer if told.
        case resume(Reader, JSON?, wakeWriter: Bool)
        /// The reader was stored; a later event resumes it.
        case suspended
    }

    /// The reader asks for the next value.
    @usableFromInline package mutating func next(_ r: Reader) -> NextAction {
        if head < buffer.count {
            let v = buffer[head]
            head += 1
            if head > 1024 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return .resume(r, v, wakeWriter: takeWriterWakeUp(when: buffered < capacity))
        }
        if finished || consumerLeft { return .resume(r, nil, wakeWriter: false) }
        reader = r
        return .suspended
    }

    /// The writer is done (the run closed the sink): the reader gets what is buffered,
    /// then nil. Returns a waiting reader to resume with nil.
    @usableFromInline package mutating func close() -> Reader? {
        finished = true
        defer { reader = nil }
        return reader
    }

    /// The consumer stopped: its task was cancelled, or it dropped its iterator. The
    /// buffer is dropped and later writes fail. Returns a waiting reader to resume with
    /// nil, and whether to wake the writer.
    @usableFromInline package mutating func consumerGone() -> (reader: Reader?, wakeWriter: Bool) {
        consumerLeft = true
        buffer = []
        head = 0
        let r = reader
        reader = nil
        return (r, takeWriterWakeUp(when: true))
    }

    /// The run was cancelled: what is in flight drains into the buffer without waiting
    /// for the consumer. Returns whether to wake the writer.
    @usableFromInline package mutating func runCancelled() -> Bool {
        runStopped = true
        return takeWriterWakeUp(when: true)
    }

    private mutating func takeWriterWakeUp(when condition: Bool) -> Bool {
        guard condition && writerWaiting else { return false }
        writerWaiting = false
        return true
    }
}
