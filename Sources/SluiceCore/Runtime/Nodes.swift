import SluiceJSON

/// Produces events: stdin, a file, a generator, an embedder's async sequence.
///
/// ``run(_:)`` is called once, on the source's own thread, and returns when the input is
/// exhausted (or ``SourceOutput/isCancelled`` turns true). Throwing ends the run with a
/// runtime failure (exit 1 in the CLI).
@usableFromInline package protocol EventSource: AnyObject {
    /// A name for messages and stats (`in`, `events`).
    var name: String { get }
    /// Reads everything and hands it to `out`.
    func run(_ out: SourceOutput) throws
}

/// Port numbers of a source.
@usableFromInline package enum SourcePort {
    /// Good events.
    @usableFromInline package static let main = 0
    /// `INPUT.malformed`: lines that are not JSON, wrapped with the reason and line number.
    @usableFromInline package static let malformed = 1
}

/// Consumes events: stdout, a file, an embedder's async stream.
///
/// Called from one thread at a time: the sink's own, or, for a sink that takes encoded
/// lines from several stages (see ``writeLines(_:count:)``), whichever of them holds the
/// sink's lock. A thrown error stops the run with a runtime
/// failure, unless it is ``SinkError/closed`` (the reader went away, as with
/// `sluice run ... | head -1`), which stops the run quietly.
@usableFromInline package protocol EventSink: AnyObject {
    /// A name for messages and stats.
    var name: String { get }
    /// Takes events in order.
    func write(_ events: [Event]) throws
    /// Called when the sink's inputs have nothing more queued: push buffered bytes out,
    /// so slow input is not held back waiting for a full buffer.
    func flush() throws
    /// Called once at the end (after a final ``flush()``).
    func close() throws
    /// True when the sink writes each event as its JSON text, so that an event which
    /// arrives as text costs it only a copy. Stages that share such a sink with other
    /// stages then encode their events themselves, in parallel, instead of leaving all
    /// the encoding to the sink's one thread (see ``Event/encoded(_:)``).
    var writesJSONText: Bool { get }
    /// Takes `count` events already encoded as JSON lines (each ending in a newline), in
    /// order. Stages that share a sink which ``writesJSONText`` hand it their output this
    /// way, each under the sink's lock, so the sink needs no thread of its own. The
    /// default splits the lines into events for ``write(_:)``.
    func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws
}

extension EventSink {
    @usableFromInline package func flush() throws {}
    @usableFromInline package func close() throws {}
    @usableFromInline package var writesJSONText: Bool { false }

    @usableFromInline package func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        let buffer = ByteBuffer(capacity: text.count)
        buffer.base.copyMemory(from: base, byteCount: text.count)
        var events: [Event] = []
        events.reserveCapacity(count)
        var start = 0
        for i in 0..<text.count where text[i] == 0x0A {
            if i > start { events.append(Event(raw: buffer, start: start, count: i - start)) }
            start = i + 1
        }
        if start < text.count { events.append(Event(raw: buffer, start: start, count: text.count - start)) }
        try write(events)
    }
}

/// A sink (or source) that must hear of ``Execution/cancel()`` because it may wait on
/// something other than the rings, such as an async consumer; ``runCancelled()`` must
/// make that wait end. Called once, from the thread that cancels.
@usableFromInline package protocol RunCancellable: AnyObject, Sendable {
    func runCancelled()
}

/// Errors a sink reports.
@usableFromInline package enum SinkError: Error, Sendable, CustomStringConvertible {
    /// The reader closed the stream (EPIPE): stop quietly, as Unix tools do.
    case closed
    /// Writing failed for a reason the user should see.
    case failed(String)

    @usableFromInline package var description: String {
        switch self {
        case .closed: "output closed"
        case .failed(let m): m
        }
    }
}

/// A source that fails to read (a missing file, a read error).
@usableFromInline package struct SourceError: Error, Sendable, CustomStringConvertible {
    @usableFromInline package var message: String
    @usableFromInline package init(_ message: String) { self.message = message }
    @usableFromInline package var description: String { message }
}

/// A source that can resume where a checkpoint left it (a file): it calls
/// ``SourceOutput/checkpointIfDue(position:)`` between batches with its position, and
/// ``resume(from:)`` is called before ``EventSource/run(_:)`` when a run restores.
package protocol CheckpointedSource: EventSource {
    /// Prepares to start reading at `position` (as passed to `checkpointIfDue`), checking
    /// that the input is still the one the checkpoint read; throws when it is not.
    func resume(from position: [UInt8]) throws(SourceError)
}

/// A sink whose output a checkpoint can commit (a file): at each barrier it makes what
/// it wrote durable and says where it stands (a file's length), so that a restore can
/// cut it back there.
package protocol CheckpointedSink: EventSink {
    /// Flushes, makes the output durable (fsync) and returns what a restore needs.
    func commit() throws -> [UInt8]
}

/// A sink that takes the events of several inputs and must know which one each batch
/// came from (the dead letters of a checkpointed run, one sink for every side output).
package protocol InputAwareSink: EventSink {
    /// Takes `events` that arrived on input `input` (the order of the edges into the sink).
    func write(_ events: [Event], input: Int) throws
}

/// A source that acts once every node of the run has finished, every output included
/// (flushed and closed): a broker input without checkpoints commits there what it read,
/// since all of it has been written. Called once, from the thread that waits for the run.
package protocol RunEndListener: AnyObject, Sendable {
    /// The run is over; `outcome` says how it ended.
    func runEnded(_ outcome: RunOutcome)
}
