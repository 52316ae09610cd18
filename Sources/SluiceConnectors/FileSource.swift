import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads JSON events from standard input or from files.
///
/// Good values become events that keep their original bytes; bad lines go to the
/// input's `malformed` port as `{"error":{"message":...,"line":N},"raw":"..."}` and the
/// read goes on.
@usableFromInline package final class FileSource: EventSource, CountsBytes {
    /// Where to read.
    @usableFromInline package enum Location: Sendable, Equatable {
        case stdin
        /// Files read one after another, in the order given.
        case files([String])
    }

    @usableFromInline package let name: String
    @usableFromInline package let location: Location
    @usableFromInline package let format: JSONInputFormat
    @usableFromInline package let limits: JSONLimits
    /// What to do with an object that repeats a key (default: it is malformed).
    @usableFromInline package let duplicateKeys: DuplicateKeyPolicy

    /// Fields whose places the reader records in each event while validating it (the
    /// fields the pipeline reads), or nil.
    @usableFromInline package let fieldIndex: FieldIndex?

    /// Bytes read so far, added to once per read (``CountsBytes``).
    package let byteCounter = ByteCounter()

    @usableFromInline package init(
        name: String, location: Location, format: JSONInputFormat = .jsonl, limits: JSONLimits = .default,
        fieldIndex: FieldIndex? = nil, duplicateKeys: DuplicateKeyPolicy = .reject
    ) {
        self.name = name
        self.location = location
        self.format = format
        self.limits = limits
        self.duplicateKeys = duplicateKeys
        self.fieldIndex = fieldIndex
    }

    @usableFromInline package func run(_ out: SourceOutput) throws {
        switch location {
        case .stdin:
            try read(fd: 0, label: "stdin", out)
        case .files(let paths):
            for path in paths {
                if out.isCancelled { return }
                let fd = open(path, O_RDONLY)
                if fd < 0 { throw SourceError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                try read(fd: fd, label: path, out)
            }
        }
    }

    func read(fd: Int32, label: String, _ out: SourceOutput) throws {
        var reader = JSONStreamReader(
            fd: fd, format: format, limits: limits, fieldIndex: fieldIndex, duplicateKeys: duplicateKeys)
        // A pipe or terminal may block for as long as its writer likes: wait for it
        // beside the run's cancellation, so that a stop (SIGINT) ends the read at once.
        // A regular file never blocks, and is read without the extra call.
        var st = stat()
        let mayBlock = fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG
        var counted = 0
        while !out.isCancelled {
            if mayBlock && !Self.waitReadable(fd, or: out.cancellationFD) { return }
            let chunk: JSONChunk?
            do {
                chunk = try reader.next()
            } catch {
                throw SourceError("cannot read '\(label)': \(error)")
            }
            if reader.bytesRead > counted {
                byteCounter.add(reader.bytesRead - counted)
                counted = reader.bytesRead
            }
            guard let chunk else { return }
            if !chunk.values.isEmpty {
                var events: [Event] = []
                events.reserveCapacity(chunk.values.count)
                let buffer = chunk.buffer
                var next = chunk.rewritten.first ?? -1
                var k = 0
                for (i, v) in chunk.values.enumerated() {
                    if i == next {
                        // Not to be written back as read (it spans lines, or repeats a
                        // key): the parsed value, which the writer puts on one line with
                        // only the key Sluice used.
                        k += 1
                        next = k < chunk.rewritten.count ? chunk.rewritten[k] : -1
                        if let value = try? JSONParser.parse(
                            buffer.bytes(v.start, v.count), maxDepth: limits.maxDepth,
                            duplicateKeys: duplicateKeys == .last ? .last : .first)
                        {
                            events.append(Event(value, line: v.line))
                            continue
                        }
                    }
                    events.append(Event(raw: buffer, start: v.start, count: v.count, line: v.line, offsets: v.offsets))
                }
                out.emit(consume events)
            }
            if !chunk.malformed.isEmpty {
                out.emit(port: SourcePort.malformed, chunk.malformed.map { Self.malformedEvent($0, file: label) })
            }
        }
    }

    /// The total size of the files, or of stdin when it is a regular file (`< file`);
    /// nil for a pipe or terminal, or a file that cannot be read (the run reports that).
    package var expectedBytes: Int? {
        var total = 0
        var st = stat()
        switch location {
        case .stdin:
            guard fstat(0, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return max(0, Int(st.st_size) - Int(lseek(0, 0, SEEK_CUR)))
        case .files(let paths):
            for p in paths {
                guard stat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
                total += Int(st.st_size)
            }
            return total
        }
    }

    /// Waits until `fd` has input (or its end, or an error, which the read reports) or
    /// `cancel` turns readable; false for the latter.
    static func waitReadable(_ fd: Int32, or cancel: Int32) -> Bool {
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: cancel, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let n = poll(&fds, cancel >= 0 ? 2 : 1, -1)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return true }  // let the read report it
            if cancel >= 0 && fds[1].revents != 0 { return false }
            if fds[0].revents != 0 { return true }
        }
    }

    /// The dead-letter form of a bad line (docs/errors.md, "Malformed input").
    static func malformedEvent(_ m: JSONChunk.Malformed, file: String) -> Event {
        var err = JSONObject(minimumCapacity: 4)
        err.appendUnchecked(key: "message", value: .string(m.message))
        err.appendUnchecked(key: "line", value: .int(Int64(m.line)))
        if file != "stdin" { err.appendUnchecked(key: "file", value: .string(file)) }
        if m.truncated { err.appendUnchecked(key: "truncated", value: .bool(true)) }
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "raw", value: .string(m.raw))
        return Event(.object(o), line: m.line)
    }
}
