import SluiceCore

/// The state of a ``PushInput``: what senders (async tasks) and the engine's source
/// thread (the reader) may do next. Each event is a method that changes the state and
/// returns the action its caller must take, in the manner of swift-async-algorithms and
/// `NIOAsyncSequenceProducer`; nothing here blocks or resumes anything, so the machine is
/// tested without threads. `Sender` is a waiting sender's continuation, resumed with
/// whether to try again (true) or give up (false: the input is finished or the run
/// stopped).
///
/// ```
///  open ──finish()──▶ finished: the reader drains what was sent, then ends
///    └──runCancelled()──▶ stopped: the reader ends now, senders give up
/// ```
@usableFromInline package struct PushInputStateMachine<Sender> {
    @usableFromInline package let capacity: Int
    private var buffer: [Event] = []
    /// Senders waiting for room, by id (so a cancelled one can be found).
    private var senders: [(id: Int, sender: Sender)] = []
    /// The reader is asleep (one wake-up is owed to it).
    private var readerWaiting = false
    private var finished = false
    private var stopped = false

    @usableFromInline package init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
    }

    @usableFromInline package enum OfferAction: Equatable {
        /// Taken; wake the reader if told.
        case accepted(wakeReader: Bool)
        /// The buffer is full: suspend (``suspend(id:_:)``) and try again when resumed.
        case full
        /// The input is finished or the run stopped: the event is not taken.
        case closed
    }

    /// A sender offers `event`.
    @usableFromInline package mutating func offer(_ event: Event) -> OfferAction {
        if finished || stopped { return .closed }
        guard buffer.count < capacity else { return .full }
        buffer.append(event)
        return .accepted(wakeReader: takeReaderWakeUp())
    }

    @usableFromInline package enum SuspendAction {
        /// Do not wait: resume the sender now with this answer (try again or give up).
        case resume(Sender, Bool)
        /// Stored; a later event resumes it.
        case stored
    }

    /// A sender found the buffer full and waits, unless things changed in between.
    @usableFromInline package mutating func suspend(id: Int, _ sender: Sender) -> SuspendAction {
        if finished || stopped { return .resume(sender, false) }
        if buffer.count < capacity { return .resume(sender, true) }
        senders.append((id, sender))
        return .stored
    }

    /// The sender with `id` was cancelled: returns it (to resume with false) if it waits.
    @usableFromInline package mutating func senderCancelled(id: Int) -> Sender? {
        guard let i = senders.firstIndex(where: { $0.id == id }) else { return nil }
        return senders.remove(at: i).sender
    }

    @usableFromInline package enum TakeAction {
        /// Emit these events, and resume the senders (with true: there is room now).
        case events([Event], resume: [Sender])
        /// Sleep until woken (one wake-up will come).
        case wait
        /// The input is over: return.
        case end
    }

    /// The reader wants what was sent.
    @usableFromInline package mutating func take() -> TakeAction {
        if stopped { return .end }
        if !buffer.isEmpty {
            let events = buffer
            buffer = []
            let waiting = senders.map(\.sender)
            senders = []
            return .events(events, resume: waiting)
        }
        if finished { return .end }
        readerWaiting = true
        return .wait
    }

    /// No more events: the reader ends after what was sent. Returns the waiting senders
    /// (to resume with false) and whether to wake the reader.
    @usableFromInline package mutating func finish() -> (senders: [Sender], wakeReader: Bool) {
        finished = true
        return (drainSenders(), takeReaderWakeUp())
    }

    /// The run was cancelled: the reader ends now, and senders give up.
    @usableFromInline package mutating func runCancelled() -> (senders: [Sender], wakeReader: Bool) {
        stopped = true
        buffer = []
        return (drainSenders(), takeReaderWakeUp())
    }

    private mutating func drainSenders() -> [Sender] {
        defer { senders = [] }
        return senders.map(\.sender)
    }

    private mutating func takeReaderWakeUp() -> Bool {
        guard readerWaiting else { return false }
        readerWaiting = false
        return true
    }
}
