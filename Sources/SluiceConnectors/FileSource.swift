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
@usableFromInline package final class FileSource: CheckpointedSource, CountsBytes {
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

    /// Where a restored run starts: which file of ``Location/files``, the byte offset in
    /// it and the line number there (see ``resume(from:)``).
    var start = (file: 0, offset: Int64(0), line: 1)

    @usableFromInline package func run(_ out: SourceOutput) throws {
        switch location {
        case .stdin:
            try read(fd: 0, label: "stdin", file: 0, out)
        case .files(let paths):
            for (i, path) in paths.enumerated() where i >= start.file {
                if out.isCancelled { break }
                let fd = open(path, O_RDONLY)
                if fd < 0 { throw SourceError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                try read(fd: fd, label: path, file: i, out)
            }
            if !out.isCancelled && out.checkpointing {
                out.finished(at: Self.position(file: paths.count, path: "", offset: 0, line: 1, fd: -1))
            }
        }
    }

    /// The position as a checkpoint records it: the file's index and path, the byte
    /// offset and line number, and CRC-32s of the file's first 4096 bytes and of the
    /// 4096 bytes before the offset (fewer when the offset is smaller), read back with
    /// `pread` when a barrier is due.
    static func position(file: Int, path: String, offset: Int64, line: Int, fd: Int32) -> [UInt8] {
        var w = StateWriter()
        w.write(1)  // version
        w.write(file)
        w.write(path)
        w.write(offset)
        w.write(line)
        let (head, tail) = fd >= 0 ? checksums(fd: fd, offset: offset) : (0, 0)
        w.write(UInt64(head))
        w.write(UInt64(tail))
        return w.bytes
    }

    /// The checksums ``position(file:path:offset:line:fd:)`` records.
    static func checksums(fd: Int32, offset: Int64) -> (head: UInt32, tail: UInt32) {
        func crc(from: Int64, count: Int) -> UInt32 {
            guard count > 0 else { return 0 }
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(from)) }
            return CRC32.checksum(bytes.prefix(max(0, n)))
        }
        let head = crc(from: 0, count: Int(min(offset, 4096)))
        let tailStart = max(0, offset - 4096)
        return (head, crc(from: tailStart, count: Int(offset - tailStart)))
    }

    /// Starts at a position a checkpoint recorded, after checking that the input is the
    /// one it read: the same file at that place in the list, at least as long as the
    /// offset, with the same first bytes and the same bytes before the offset.
    @usableFromInline package func resume(from position: [UInt8]) throws(SourceError) {
        guard case .files(let paths) = location else {
            throw SourceError("input '\(name)' reads standard input, which cannot be read again from a checkpoint")
        }
        var r = StateReader(position)
        let file: Int
        let path: String
        let offset: Int64
        let line: Int
        let head: UInt64
        let tail: UInt64
        do throws(StateError) {
            guard try r.readInt() == 1 else { throw StateError("unknown position version") }
            file = try r.readInt()
            path = try r.readString()
            offset = try r.readInt64()
            line = try r.readInt()
            head = try r.readUInt()
            tail = try r.readUInt()
        } catch {
            throw SourceError("input '\(name)': the checkpoint's position is unreadable (\(error.message))")
        }
        guard file >= 0, offset >= 0 else { throw SourceError("input '\(name)': the checkpoint's position is invalid") }
        if path.isEmpty {
            // Past the end of file `file - 1`: starts file `file`.
            start = (file, 0, 1)
            return
        }
        guard file < paths.count, paths[file] == path else {
            let now = file < paths.count ? "is now '\(paths[file])'" : "no longer exists (\(paths.count) files)"
            throw SourceError(
                "input '\(name)' changed since the checkpoint: file \(file + 1) of its files was '\(path)' and \(now); restore with the same input files, or remove the checkpoint directory to start afresh"
            )
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SourceError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw SourceError("cannot stat '\(path)': \(String(cString: strerror(errno)))")
        }
        guard Int64(st.st_size) >= offset else {
            throw SourceError(
                "input '\(name)': '\(path)' is shorter (\(st.st_size) bytes) than where the checkpoint had read to (\(offset) bytes): it was truncated or replaced; restore with the same input, or remove the checkpoint directory to start afresh"
            )
        }
        let sums = Self.checksums(fd: fd, offset: offset)
        guard UInt64(sums.head) == head, UInt64(sums.tail) == tail else {
            throw SourceError(
                "input '\(name)': '\(path)' changed since the checkpoint (its first bytes or the bytes before offset \(offset) differ); restore with the same input, or remove the checkpoint directory to start afresh"
            )
        }
        start = (file, offset, line)
    }

    func read(fd: Int32, label: String, file: Int, _ out: SourceOutput) throws {
        var base: Int64 = 0
        var firstLine = 1
        if file == start.file && start.offset > 0 {
            if lseek(fd, off_t(start.offset), SEEK_SET) < 0 {
                throw SourceError("cannot seek in '\(label)': \(String(cString: strerror(errno)))")
            }
            base = start.offset
            firstLine = start.line
        }
        var reader = JSONStreamReader(
            fd: fd, format: format, limits: limits, fieldIndex: fieldIndex, duplicateKeys: duplicateKeys)
        reader.startLines(at: firstLine)
        let checkpointing = out.checkpointing
        var atEnd = false
        // Read to its end: a barrier due now resumes at the start of the next file.
        defer {
            if checkpointing && atEnd {
                out.checkpointIfDue { Self.position(file: file + 1, path: "", offset: 0, line: 1, fd: -1) }
            }
        }
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
            guard let chunk else {
                atEnd = true
                return
            }
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
            if checkpointing, let p = reader.position {
                out.checkpointIfDue {
                    Self.position(file: file, path: label, offset: base + p.offset, line: p.line, fd: fd)
                }
            }
        }
        if checkpointing, let p = reader.position {
            // Stopped (or at the end): a due barrier, such as a stop's final one, goes here.
            out.checkpointIfDue {
                Self.position(file: file, path: label, offset: base + p.offset, line: p.line, fd: fd)
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
