import Synchronization
import SluiceCore
import SluiceJSON

/// The destination of side outputs that no stream or output reads: counted always, and
/// written to the `--dlq` file when one is given. Several ports share one file, so writes
/// go through a lock (dead letters are rare; the lock is not on a hot path).
public final class DeadLetterFile: Sendable {
    let sink: Mutex<JSONLinesSink?>

    /// A file sink for dead letters, or nil to only count them.
    public init(path: String?) throws {
        if let path {
            sink = Mutex(try JSONLinesSink(name: "dlq", target: .file(path: path, append: false)))
        } else {
            sink = Mutex(nil)
        }
    }

    func write(_ events: [Event]) throws {
        try sink.withLock { s in
            guard let s else { return }
            try s.write(events)
            try s.flush()
        }
    }

    func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        // Copied, to cross into the lock (dead letters are rare).
        let bytes = Array(text)
        try sink.withLock { s in
            guard let s else { return }
            try bytes.withUnsafeBytes { try s.writeLines($0, count: count) }
            try s.flush()
        }
    }
}

/// Counts (and, with a ``DeadLetterFile``, writes) the events of one unread side output,
/// such as `in.malformed` or `main.rejected`.
public final class DeadLetterSink: EventSink {
    public let name: String
    let file: DeadLetterFile
    /// Events seen so far.
    public private(set) var count = 0

    public init(port: String, file: DeadLetterFile) {
        name = port
        self.file = file
    }

    public func write(_ events: [Event]) throws {
        count += events.count
        try file.write(events)
    }

    /// Dead letters are written as they are, one JSON line each.
    public var writesJSONText: Bool { true }

    public func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        self.count += count
        try file.writeLines(text, count: count)
    }
}
