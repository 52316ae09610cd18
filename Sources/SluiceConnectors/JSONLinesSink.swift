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
@usableFromInline package final class JSONLinesSink: CheckpointedSink, CountsBytes {
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

    /// True for a file (committed with fsync; cut back on restore).
    let isFile: Bool

    /// Opens the target now, so a bad path fails before any input is read. With
    /// `resumeAt` (a checkpoint's ``commit()``), a file is not truncated but cut back to
    /// the length the checkpoint recorded, and written on from there.
    @usableFromInline package init(name: String, target: Target, resumeAt: [UInt8]? = nil) throws {
        isFile = if case .file = target { true } else { false }
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
            var length: Int64?
            if let resumeAt {
                var r = StateReader(resumeAt)
                guard let n = try? r.readInt64(), n >= 0 else {
                    throw SinkError.failed("output '\(name)': the checkpoint's length of '\(path)' is unreadable")
                }
                length = n
            }
            let flags = O_WRONLY | O_CREAT | (length != nil ? 0 : append ? O_APPEND : O_TRUNC)
            let f = open(path, flags, 0o644)
            if f < 0 {
                throw SinkError.failed("cannot open '\(path)' for writing: \(String(cString: strerror(errno)))")
            }
            if let length {
                var st = stat()
                if fstat(f, &st) != 0 || Int64(st.st_size) < length {
                    _ = Glibc.close(f)
                    throw SinkError.failed(
                        "output '\(name)': '\(path)' is shorter (\(st.st_size) bytes) than the checkpoint recorded (\(length) bytes): it was changed since; remove the checkpoint directory to start afresh"
                    )
                }
                // What was written after the checkpoint is written again by the restored run.
                if ftruncate(f, off_t(length)) != 0 || lseek(f, 0, SEEK_END) < 0 {
                    let e = errno
                    _ = Glibc.close(f)
                    throw SinkError.failed(
                        "cannot cut '\(path)' back to \(length) bytes: \(String(cString: strerror(e)))")
                }
            }
            fd = f
            ownsFD = true
            label = path
        }
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    deinit { if ownsFD { _ = Glibc.close(fd) } }

    @usableFromInline package func write(_ events: [Event]) throws {
        // The buffer is taken into a local for the loop: every access to a class's
        // stored array is checked for exclusivity at run time (about 80 instructions),
        // which would otherwise be once per event.
        var out: [UInt8] = []
        swap(&out, &buffer)
        defer { swap(&out, &buffer) }
        // Each event is read where it is in the batch (`for e in events` would copy it,
        // retaining and releasing its buffer).
        try events.withUnsafeBufferPointer { batch in
            guard let base = batch.baseAddress else { return }
            for i in 0..<batch.count {
                Event.write(at: base + i, into: &out)
                out.append(0x0A)
                if out.count >= Self.flushThreshold { try flush(&out) }
            }
        }
    }

    @usableFromInline package func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        buffer.append(contentsOf: text)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    @usableFromInline package func flush() throws {
        try flush(&buffer)
    }

    /// Writes `buffer` out and empties it (keeping its capacity).
    func flush(_ buffer: inout [UInt8]) throws {
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

    /// Flushes; for a file, fsyncs and returns its length (standard output and error:
    /// nothing to record).
    @usableFromInline package func commit() throws -> [UInt8] {
        try flush()
        guard isFile else { return [] }
        if fsync(fd) != 0 {
            throw SinkError.failed("cannot fsync '\(label)': \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw SinkError.failed("cannot stat '\(label)': \(String(cString: strerror(errno)))")
        }
        var w = StateWriter()
        w.write(Int64(st.st_size))
        return w.bytes
    }

    /// Writes JSON text: yes.
    @usableFromInline package var writesJSONText: Bool { true }
}
