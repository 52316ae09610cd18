import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes events as JSON lines to standard output, standard error or a file.
///
/// Output is buffered and written in large blocks; the buffer is also pushed out whenever
/// the sink has caught up with its input, so a slow trickle of events is not held back.
/// A closed pipe (EPIPE) ends the run quietly.
@usableFromInline package final class JSONLinesSink: EventSink, CountsBytes {
    /// Where to write.
    @usableFromInline package enum Target: Sendable, Equatable {
        case stdout
        case stderr
        /// A file, truncated first unless `append`.
        case file(path: String, append: Bool)
    }

    @usableFromInline package let name: String
    let fd: Int32
    let ownsFD: Bool
    let label: String
    var buffer: [UInt8] = []
    static let flushThreshold = 256 << 10
    /// Bytes written so far, added to once per block written (``CountsBytes``).
    package let byteCounter = ByteCounter()
    /// A sink reads nothing.
    package var expectedBytes: Int? { nil }

    /// Opens the target now, so a bad path fails before any input is read.
    @usableFromInline package init(name: String, target: Target) throws {
        self.name = name
        switch target {
        case .stdout:
            fd = 1
            ownsFD = false
            label = "stdout"
        case .stderr:
            fd = 2
            ownsFD = false
            label = "stderr"
        case .file(let path, let append):
            let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
            let f = open(path, flags, 0o644)
            if f < 0 {
                throw SinkError.failed("cannot open '\(path)' for writing: \(String(cString: strerror(errno)))")
            }
            fd = f
            ownsFD = true
            label = path
        }
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    deinit { if ownsFD { _ = Glibc.close(fd) } }

    @usableFromInline package func write(_ events: [Event]) throws {
        for e in events {
            e.write(into: &buffer)
            buffer.append(0x0A)
            if buffer.count >= Self.flushThreshold { try flush() }
        }
    }

    @usableFromInline package func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        buffer.append(contentsOf: text)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    @usableFromInline package func flush() throws {
        var done = 0
        let total = buffer.count
        while done < total {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, total - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                buffer.removeAll(keepingCapacity: true)
                if e == EPIPE { throw SinkError.closed }
                throw SinkError.failed("cannot write to '\(label)': \(String(cString: strerror(e)))")
            }
            done += n
        }
        byteCounter.add(total)
        buffer.removeAll(keepingCapacity: true)
    }

    @usableFromInline package func close() throws {
        try flush()
    }

    /// Writes JSON text: yes.
    @usableFromInline package var writesJSONText: Bool { true }
}
