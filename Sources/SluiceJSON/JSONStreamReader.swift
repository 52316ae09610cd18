#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How input text is split into JSON values.
@usableFromInline package enum JSONInputFormat: String, Sendable, CaseIterable {
    /// One JSON value per line; blank lines are skipped.
    case jsonl
    /// Concatenated JSON values separated by any whitespace, as jq reads them.
    case json
}

/// A piece of input read in one go: a buffer and the values and bad lines found in it.
@usableFromInline package struct JSONChunk: Sendable {
    /// One good value: its bytes in ``buffer`` and the line it starts on (1-based).
    @usableFromInline package struct Value: Sendable {
        @usableFromInline package var start: Int
        @usableFromInline package var count: Int
        @usableFromInline package var line: Int
        /// Where the reader's ``JSONStreamReader/fieldIndex`` fields start (JSON lines only).
        @usableFromInline package var offsets = FieldOffsets()
    }

    /// One bad line or value: where, why, and its text (cut to ``JSONStreamReader/rawLimit``
    /// bytes when longer, with `truncated` set).
    @usableFromInline package struct Malformed: Sendable {
        @usableFromInline package var line: Int
        @usableFromInline package var message: String
        @usableFromInline package var raw: String
        @usableFromInline package var truncated: Bool
    }

    /// The bytes that the values point into.
    @usableFromInline package var buffer: ByteBuffer
    @usableFromInline package var values: [Value] = []
    @usableFromInline package var malformed: [Malformed] = []
    /// Indices in ``values`` (ascending) of values whose bytes must not be written back
    /// as they are: a value of the `json` format that spans lines (output is one value
    /// per line), or an object with a repeated key that the reader was told to accept
    /// (output has only the key Sluice uses). Parse them with
    /// ``JSONStreamReader/duplicateKeys`` and write the parsed value.
    @usableFromInline package var rewritten: [Int] = []
}

/// Reads JSON values from a file descriptor in large chunks, without a system call or a
/// string per line, and checks each value on the way.
///
/// Memory stays bounded: each read fills a fresh chunk buffer (64 KiB unless a value
/// needs more) that its values point into, freed when the last event from it is, and a
/// value longer than ``JSONLimits/maxEventSize`` is not buffered but skipped and reported
/// as malformed with its first bytes.
@usableFromInline package struct JSONStreamReader {
    /// How much of a bad line is kept in the malformed report when the line is longer
    /// than the event-size limit.
    @usableFromInline package static let rawLimit = 1024

    @usableFromInline package let format: JSONInputFormat
    @usableFromInline package let limits: JSONLimits
    /// What to do with an object that repeats a key.
    @usableFromInline package let duplicateKeys: DuplicateKeyPolicy
    let checker: DuplicateKeyChecker
    let fd: Int32
    let chunkSize: Int
    var buffer: ByteBuffer
    /// Bytes in `buffer` so far.
    var filled = 0
    /// Start of the first byte not yet turned into a value or error.
    var pending = 0
    /// Line number at `pending`.
    var line = 1
    /// Skipping the rest of an oversized line.
    var skipping = false
    var eof = false
    /// Values the last read gave (how much room the next chunk's array is given).
    var lastValueCount = 0
    /// Bytes read from the descriptor so far (for progress, byte counters and positions).
    @usableFromInline package private(set) var bytesRead = 0

    /// Where the input has been read up to, as a reader resuming it would start: the
    /// bytes turned into values and errors so far, and the line number there. Nil in
    /// the middle of an oversized line being skipped.
    @usableFromInline package var position: (offset: Int64, line: Int)? {
        skipping ? nil : (Int64(bytesRead - (filled - pending)), line)
    }

    /// Numbers lines from `line` (for a reader that resumes in the middle of an input).
    @usableFromInline package mutating func startLines(at line: Int) { self.line = line }

    /// Fields whose places are recorded in each JSON-lines value's ``JSONChunk/Value/offsets``.
    @usableFromInline package let fieldIndex: FieldIndex?

    /// A reader over `fd` (which it does not close). With a `fieldIndex`, validating a
    /// line also records where the values of those fields start. An object that repeats
    /// a key is malformed unless `duplicateKeys` accepts it.
    @usableFromInline package init(
        fd: Int32, format: JSONInputFormat = .jsonl, limits: JSONLimits = .default, chunkSize: Int = 64 << 10,
        fieldIndex: FieldIndex? = nil, duplicateKeys: DuplicateKeyPolicy = .reject
    ) {
        self.fd = fd
        self.format = format
        self.limits = limits
        self.duplicateKeys = duplicateKeys
        checker = DuplicateKeyChecker(rejects: false)
        self.chunkSize = chunkSize
        self.fieldIndex = fieldIndex.flatMap { $0.keys.isEmpty ? nil : $0 }
        buffer = ByteBuffer(capacity: chunkSize, fieldIndex: self.fieldIndex)
    }

    /// Reads once (at most one `read` call) and returns what became complete, or nil at
    /// the end of input. Throws the `read` error (the caller decides how to report it).
    @usableFromInline package mutating func next() throws(SourceReadError) -> JSONChunk? {
        if eof { return nil }
        // Each read goes into a buffer no earlier chunk's events point into: the events of
        // one chunk then share a reference count that the threads downstream touch one
        // batch at a time, instead of contending for it with this thread and each other.
        if filled == buffer.capacity || pending > 0 { growOrRecycle() }
        let n = read(fd, buffer.base + filled, buffer.capacity - filled)
        if n < 0 {
            if errno == EINTR { return JSONChunk(buffer: buffer) }
            throw SourceReadError(errno: errno)
        }
        if n == 0 {
            eof = true
            var chunk = JSONChunk(buffer: buffer)
            finishAtEOF(&chunk)
            return chunk
        }
        let from = filled
        filled += n
        bytesRead += n
        var chunk = JSONChunk(buffer: buffer)
        // Room for as many values as the last read gave, and a little more: growing the
        // array from empty copied it ten times a chunk (about 70 instructions a value).
        chunk.values.reserveCapacity(lastValueCount &+ lastValueCount &>> 3 &+ 4)
        switch format {
        case .jsonl: scanLines(from: from, into: &chunk)
        case .json: scanValues(into: &chunk)
        }
        lastValueCount = chunk.values.count
        return chunk
    }

    /// Moves the unfinished tail into a fresh buffer (the old one stays alive while
    /// events point into it), growing when one value needs more room.
    mutating func growOrRecycle() {
        let carry = filled - pending
        var cap = chunkSize
        while cap < carry * 2 { cap *= 2 }
        let fresh = ByteBuffer(capacity: cap, fieldIndex: fieldIndex)
        if carry > 0 { fresh.base.copyMemory(from: buffer.base + pending, byteCount: carry) }
        buffer = fresh
        filled = carry
        pending = 0
    }

    // MARK: JSON lines

    mutating func scanLines(from: Int, into chunk: inout JSONChunk) {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        var searchFrom = from
        while searchFrom < filled {
            guard let nl = memchr(base + searchFrom, 0x0A, filled - searchFrom) else { break }
            let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
            if skipping {
                skipping = false
            } else {
                lineValue(start: pending, end: end, into: &chunk)
            }
            line += 1
            pending = end + 1
            searchFrom = pending
        }
        // An unfinished line that already exceeds the limit will never be accepted:
        // report it now and drop its bytes.
        if !skipping, filled - pending > limits.maxEventSize {
            chunk.malformed.append(oversized(start: pending))
            skipping = true
        }
        if skipping { pending = filled }
    }

    /// A value that is not valid JSON, with its text (cut to ``rawLimit``).
    func invalid(_ bytes: UnsafeRawBufferPointer, _ reason: String) -> JSONChunk.Malformed {
        JSONChunk.Malformed(
            line: line,
            message: "invalid JSON: \(reason)",
            raw: String(decoding: bytes.prefix(Self.rawLimit), as: UTF8.self),
            truncated: bytes.count > Self.rawLimit
        )
    }

    func oversized(start: Int) -> JSONChunk.Malformed {
        let shown = min(Self.rawLimit, filled - start)
        let raw = String(decoding: UnsafeRawBufferPointer(start: buffer.base + start, count: shown), as: UTF8.self)
        return JSONChunk.Malformed(
            line: line,
            message: "event larger than the \(limits.maxEventSize)-byte limit",
            raw: raw,
            truncated: true
        )
    }

    /// `body` with the buffer's field index (nil without one), lent at +0: the buffer
    /// holds the index, so no retain and release per line.
    @inline(__always)
    func withFieldIndex<R>(_ body: (FieldIndex?) -> R) -> R {
        guard let indexRef = buffer.indexRef else { return body(nil) }
        return indexRef._withUnsafeGuaranteedRef { body($0) }
    }

    mutating func lineValue(start: Int, end: Int, into chunk: inout JSONChunk) {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        var s = start
        var e = end
        while s < e, isSpace(base[s]) { s += 1 }
        while e > s, isSpace(base[e - 1]) { e -= 1 }
        if s == e { return }
        let bytes = UnsafeRawBufferPointer(start: base + s, count: e - s)
        if e - s > limits.maxEventSize {
            chunk.malformed.append(oversized(start: s))
            return
        }
        var offsets = FieldOffsets()
        // Nearly every line is a flat object, which the fast path accepts on its own;
        // anything else, valid or not, is read again by the general path below.
        let flat = withFieldIndex {
            JSONParser.validateFlat(bytes, maxDepth: limits.maxDepth, index: $0, offsets: &offsets, checker: checker)
        }
        if flat {
            chunk.values.append(JSONChunk.Value(start: s, count: e - s, line: line, offsets: offsets))
            return
        }
        let error = withFieldIndex { index in
            if let index {
                JSONParser.validate(
                    bytes, maxDepth: limits.maxDepth, index: index, offsets: &offsets, checker: checker)
            } else {
                JSONParser.validate(bytes, maxDepth: limits.maxDepth, checker: checker)
            }
        }
        if let err = error ?? repeatedKeyError() {
            chunk.malformed.append(
                JSONChunk.Malformed(
                    line: line,
                    message: "invalid JSON: \(err.message) (column \(s - start + err.offset + 1))",
                    raw: String(decoding: bytes, as: UTF8.self),
                    truncated: false
                )
            )
        } else {
            if checker.found { chunk.rewritten.append(chunk.values.count) }
            chunk.values.append(JSONChunk.Value(start: s, count: e - s, line: line, offsets: offsets))
        }
    }

    /// With ``duplicateKeys`` `.reject`, the error for the value validated last when it
    /// repeats a key.
    @inline(__always)
    func repeatedKeyError() -> JSONError? {
        guard checker.found, duplicateKeys == .reject, var err = checker.firstRepeated else { return nil }
        err.message +=
            " (Sluice reads I-JSON, RFC 7493; to accept it, set the input's 'duplicate_keys' (or --duplicate-keys) to 'first' or 'last')"
        return err
    }

    /// Appends a value of the `json` format, to be rewritten when it spans lines or
    /// repeats a key.
    mutating func appendValue(start: Int, end: Int, into chunk: inout JSONChunk) {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        let breaks = memchr(base + start, 0x0A, end - start) != nil || memchr(base + start, 0x0D, end - start) != nil
        if breaks || checker.found { chunk.rewritten.append(chunk.values.count) }
        chunk.values.append(JSONChunk.Value(start: start, count: end - start, line: line))
    }

    mutating func finishAtEOF(_ chunk: inout JSONChunk) {
        switch format {
        case .jsonl:
            if !skipping, pending < filled { lineValue(start: pending, end: filled, into: &chunk) }
        case .json:
            scanValues(into: &chunk)
            skipWhitespace()
            if pending < filled {
                let bytes = UnsafeRawBufferPointer(start: buffer.base + pending, count: filled - pending)
                let err = JSONParser.validate(bytes, maxDepth: limits.maxDepth, checker: checker) ?? repeatedKeyError()
                if err == nil {
                    // A number that ends the input is complete after all.
                    var end = filled
                    let base = buffer.base.assumingMemoryBound(to: UInt8.self)
                    while end > pending, isSpace(base[end - 1]) { end -= 1 }
                    appendValue(start: pending, end: end, into: &chunk)
                    pending = filled
                    return
                }
                chunk.malformed.append(invalid(bytes, err?.message ?? "unexpected end of input"))
            }
        }
        pending = filled
    }

    // MARK: Concatenated values

    mutating func skipWhitespace() {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        while pending < filled, isSpace(base[pending]) {
            if base[pending] == 0x0A { line += 1 }
            pending += 1
        }
    }

    mutating func advanceCountingLines(to end: Int) {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        while pending < end {
            if base[pending] == 0x0A { line += 1 }
            pending += 1
        }
    }

    mutating func scanValues(into chunk: inout JSONChunk) {
        let base = buffer.base.assumingMemoryBound(to: UInt8.self)
        while true {
            if skipping {
                // Drop bytes to the end of the current line.
                guard let nl = memchr(base + pending, 0x0A, filled - pending) else {
                    pending = filled
                    return
                }
                pending = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                skipping = false
            }
            skipWhitespace()
            if pending >= filled { return }
            let all = UnsafeRawBufferPointer(start: buffer.base, count: filled)
            switch JSONParser.scanPrefix(all, from: pending, maxDepth: limits.maxDepth, checker: checker) {
            case .complete(let end):
                if let err = repeatedKeyError() {
                    let bytes = UnsafeRawBufferPointer(start: buffer.base + pending, count: end - pending)
                    chunk.malformed.append(invalid(bytes, err.message))
                } else {
                    appendValue(start: pending, end: end, into: &chunk)
                }
                advanceCountingLines(to: end)
            case .incomplete:
                if filled - pending > limits.maxEventSize {
                    chunk.malformed.append(oversized(start: pending))
                    skipping = true
                    continue
                }
                if eof { return }
                return
            case .invalid(let err):
                // Report up to the end of the line where the error is, then resume.
                let errAt = min(err.offset, filled)
                var stop = errAt
                while stop < filled, base[stop] != 0x0A { stop += 1 }
                let bytes = UnsafeRawBufferPointer(start: buffer.base + pending, count: stop - pending)
                chunk.malformed.append(invalid(bytes, err.message))
                if stop == filled && !eof {
                    skipping = true
                    advanceCountingLines(to: stop)
                    return
                }
                advanceCountingLines(to: stop)
            }
        }
    }
}

@inline(__always)
func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

/// A failed `read` on an input.
@usableFromInline package struct SourceReadError: Error, Sendable, CustomStringConvertible {
    @usableFromInline package var errno: Int32
    @usableFromInline package var description: String { String(cString: strerror(errno)) }
}
