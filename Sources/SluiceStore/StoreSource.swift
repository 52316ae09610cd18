import SluiceCore
import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a `store` input reads (docs/event-sourcing.md, "The store input").
package struct StoreReadSpec: Sendable, Equatable {
    package var location: StoreLocation
    package var start: ReplayStart
    /// Keep polling for new appends after the end.
    package var follow: Bool
    /// The store as messages name it.
    package var path: String { location.description }
    /// Milliseconds between polls in follow mode (on PostgreSQL, the longest wait for a
    /// notification before reading again).
    package var pollMillis: Int
    /// The field that receives the stream metadata, or nil for none.
    package var metadataField: String?

    package init(location: StoreLocation, start: ReplayStart, follow: Bool, pollMillis: Int, metadataField: String?) {
        self.location = location
        self.start = start
        self.follow = follow
        self.pollMillis = pollMillis
        self.metadataField = metadataField
    }
}

/// Replays an event store in global order, then (with `follow`) waits for new appends
/// (polling SQLite, or a PostgreSQL notification).
/// Each event is the stored JSON object with the stream metadata added under
/// ``StoreReadSpec/metadataField``. A row whose data is not a JSON object goes to the
/// input's `malformed` side output with the reason.
///
/// With checkpoints it records the position of the last row read (and the line count),
/// and a restored run reads on after it.
package final class StoreSource: CheckpointedSource, Sendable {
    package let name: String
    let spec: StoreReadSpec
    /// Rows read per query (and events per batch handed downstream).
    let pageSize: Int

    package init(name: String, spec: StoreReadSpec, pageSize: Int = 2048) {
        self.name = name
        self.spec = spec
        self.pageSize = max(1, pageSize)
    }

    /// Where a restored run starts: after this store position, counting lines from here.
    /// Set once, by ``resume(from:)``, before the source's thread starts.
    let resumeAfter = Mutex<(position: Int64, line: Int)>((0, 0))

    package func resume(from position: [UInt8]) throws(SourceError) {
        var r = StateReader(position)
        do throws(StateError) {
            let after = (position: try r.readInt64(), line: try r.readInt())
            resumeAfter.withLock { $0 = after }
        } catch {
            throw SourceError("input '\(name)': the checkpoint's store position is unreadable (\(error.message))")
        }
    }

    static func position(_ last: Int64, _ line: Int) -> [UInt8] {
        var w = StateWriter()
        w.write(last)
        w.write(line)
        return w.bytes
    }

    package func run(_ out: SourceOutput) throws {
        let store: any EventStoreBackend
        do {
            store = try spec.location.openForReading(follow: spec.follow)
        } catch {
            throw SourceError("input '\(name)': \(error.message)")
        }
        defer { store.close() }
        var reader = PageReader(metadataField: spec.metadataField)
        (reader.last, reader.line) = resumeAfter.withLock { $0 }
        defer { out.checkpointIfDue { Self.position(reader.last, reader.line) } }
        while !out.isCancelled {
            reader.bad.removeAll()
            reader.rows.removeAll(keepingCapacity: true)
            let n: Int
            do {
                // SQLite's rows are read as their own type, without an existential.
                if let sqlite = store as? SQLiteEventStore {
                    n = try sqlite.read(spec.start, after: reader.last, limit: pageSize) { reader.add($0) }
                } else {
                    n = try store.replay(spec.start, after: reader.last, limit: pageSize) { reader.add($0) }
                }
            } catch let e as StoreError {
                throw SourceError("input '\(name)': \(e.message)")
            }
            var batch: [Event] = []
            batch.reserveCapacity(reader.rows.count)
            if !reader.rows.isEmpty {
                let buffer = reader.page.buffer
                for r in reader.rows {
                    if let o = r.parsed {
                        batch.append(Event(.object(o), line: r.line))
                    } else {
                        batch.append(Event(raw: buffer, start: r.start, count: r.count, line: r.line))
                    }
                }
                // The events keep this buffer; the next page gets a new one, about this
                // page's size.
                reader.page = PageBytes(capacity: max(1 << 16, reader.page.count + reader.page.count / 8))
            } else {
                reader.page.count = 0
            }
            if !reader.bad.isEmpty { out.emit(port: SourcePort.malformed, reader.bad) }
            out.emit(batch)
            out.checkpointIfDue { Self.position(reader.last, reader.line) }
            if n == pageSize { continue }
            guard spec.follow else {
                out.finished(at: Self.position(reader.last, reader.line))
                return
            }
            // Caught up: wait for appends, in short steps so a cancel is seen soon.
            store.waitForAppends(millis: spec.pollMillis) { out.isCancelled }
        }
    }

    /// Turns the rows of a page into events. The page's events share one buffer of their
    /// stored bytes, with the metadata written into each as JSON text: they stay raw
    /// (validated, never parsed). Each row's bytes are copied once, from the store's row
    /// straight into that buffer.
    struct PageReader {
        let metadataField: String?
        let fieldKeys: [String]
        let quotedField: [UInt8]
        /// `"field":`, written after each event's last member.
        let fieldPrefix: [UInt8]
        var page = PageBytes(capacity: 1 << 16)
        var rows: [(start: Int, count: Int, line: Int, parsed: JSONObject?)] = []
        var bad: [Event] = []
        var escaped: [UInt8] = []
        /// The position of the last row read, and the rows counted so far.
        var last: Int64 = 0
        var line = 0

        init(metadataField: String?) {
            self.metadataField = metadataField
            fieldKeys = metadataField.map { [$0] } ?? []
            quotedField = metadataField.map { Array("\"\($0)\"".utf8) } ?? []
            var prefix: [UInt8] = []
            if let field = metadataField {
                JSONWriter.writeString(field, into: &prefix)
                prefix.append(UInt8(ascii: ":"))
            }
            fieldPrefix = prefix
        }

        /// Adds one row: to ``rows`` (its bytes to ``page``), or to ``bad``.
        mutating func add<Row: StoredEventRow>(_ row: Row) {
            let position = row.position
            last = position
            line += 1
            // Rows the store output wrote with Sluice's serializer are valid JSON
            // (the store marks them); any other row is validated here.
            let trusted = row.dataIsValidJSON
            let problem: String? = row.withData { data in
                if !trusted, let e = JSONParser.validate(data) { return "stored data is not valid JSON: \(e)" }
                guard let open = data.firstIndex(where: { !StoreSource.isSpace($0) }), data[open] == UInt8(ascii: "{"),
                    let close = data.lastIndex(where: { !StoreSource.isSpace($0) }), data[close] == UInt8(ascii: "}")
                else {
                    let kind = (try? JSONParser.parse(data))?.kindName ?? "value"
                    return "stored data is a JSON \(kind), not an object"
                }
                let start = page.count
                guard let field = metadataField else {
                    page.append(UnsafeRawBufferPointer(rebasing: data[open...close]))
                    rows.append((start, page.count - start, line, nil))
                    return nil
                }
                if StoreSource.mayHaveKey(quotedField, in: data) && JSONParser.hasAnyKey(fieldKeys, in: data) {
                    // Replayed and appended again: it has the field already, which
                    // the parsed event replaces.
                    guard case .object(var o)? = try? JSONParser.parse(data) else {
                        return "stored data is not a JSON object"
                    }
                    o[field] = .object(StoreSource.metadata(row))
                    rows.append((0, 0, line, o))
                    return nil
                }
                page.reserve(close - open + 2 + fieldPrefix.count + MetadataWriter.capacity)
                page.append(UnsafeRawBufferPointer(rebasing: data[open..<close]))
                let empty = data[(open + 1)..<close].allSatisfy(StoreSource.isSpace)
                if !empty { page.append(UInt8(ascii: ",")) }
                page.append(fieldPrefix)
                // The usual metadata (short texts that need no escapes) is written
                // in place; anything else takes the general way.
                var w = MetadataWriter(base: page.end)
                if StoreSource.writeMetadata(row, position: position, into: &w) {
                    page.count += w.count
                } else {
                    escaped.removeAll(keepingCapacity: true)
                    StoreSource.writeMetadataEscaped(row, into: &escaped)
                    page.append(escaped)
                }
                page.append(UInt8(ascii: "}"))
                rows.append((start, page.count - start, line, nil))
                return nil
            }
            if let problem { bad.append(StoreSource.malformed(row, problem, line: line)) }
        }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// ``metadata(_:)`` written as JSON text into `w` (which has room for
    /// ``MetadataWriter/capacity`` bytes), without making the object: the row's text
    /// columns are copied from the row, without making strings. False when a text is
    /// long or needs escapes: then ``writeMetadataEscaped(_:into:)`` writes it.
    static func writeMetadata<Row: StoredEventRow>(_ row: Row, position: Int64, into w: inout MetadataWriter) -> Bool {
        w.put(#"{"position":"#)
        w.int(position)
        w.put(#","stream":"#)
        guard row.withText(.streamID, { w.plainString($0) }) else { return false }
        w.put(#","version":"#)
        w.int(row.version)
        w.put(#","id":"#)
        guard row.withText(.eventID, { w.plainString($0) }) else { return false }
        w.put(#","type":"#)
        guard row.withText(.type, { w.plainString($0) }) else { return false }
        w.put(#","schema_version":"#)
        w.int(row.schemaVersion)
        w.put(#","event_time":"#)
        w.int(row.eventTime)
        w.put(#","appended_at":"#)
        w.int(row.appendedAt)
        w.put("}")
        return true
    }

    /// ``writeMetadata(_:position:into:)`` for texts that are long or need escapes.
    static func writeMetadataEscaped<Row: StoredEventRow>(_ row: Row, into out: inout [UInt8]) {
        func text(_ column: StoredTextColumn) {
            row.withText(column) { JSONWriter.writeString(utf8: $0.assumingMemoryBound(to: UInt8.self), into: &out) }
        }
        out.append(contentsOf: Keys.position)
        JSONWriter.writeInt(row.position, into: &out)
        out.append(contentsOf: Keys.stream)
        text(.streamID)
        out.append(contentsOf: Keys.version)
        JSONWriter.writeInt(row.version, into: &out)
        out.append(contentsOf: Keys.id)
        text(.eventID)
        out.append(contentsOf: Keys.type)
        text(.type)
        out.append(contentsOf: Keys.schemaVersion)
        JSONWriter.writeInt(row.schemaVersion, into: &out)
        out.append(contentsOf: Keys.eventTime)
        JSONWriter.writeInt(row.eventTime, into: &out)
        out.append(contentsOf: Keys.appendedAt)
        JSONWriter.writeInt(row.appendedAt, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Writes the metadata into a fixed buffer of ``capacity`` bytes: 160 for the keys and
    /// five integers of at most 20 characters, the rest for the three texts.
    struct MetadataWriter {
        static let capacity = 512
        /// The longest text written here; longer ones take the general way.
        static let maxText = 100
        let base: UnsafeMutablePointer<UInt8>
        var count = 0

        init(base: UnsafeMutablePointer<UInt8>) { self.base = base }

        @inline(__always)
        mutating func put(_ s: StaticString) {
            (base + count).update(from: s.utf8Start, count: s.utf8CodeUnitCount)
            count += s.utf8CodeUnitCount
        }

        /// Writes `value` in decimal (``JSONWriter/writeInt(_:at:)``).
        @inline(__always)
        mutating func int(_ value: Int64) {
            count += JSONWriter.writeInt(value, at: base + count)
        }

        /// Writes `text` in quotes when it is ASCII that needs no escapes and fits; false
        /// otherwise (the general way escapes it and checks its UTF-8).
        /// The text is copied as it is checked, in one pass; on false ``count`` has not
        /// moved, so what was copied is overwritten.
        @inline(__always)
        mutating func plainString(_ text: UnsafeRawBufferPointer) -> Bool {
            guard text.count <= Self.maxText else { return false }
            base[count] = UInt8(ascii: "\"")
            let to = base + count + 1
            for i in 0..<text.count {
                let b = text[i]
                // Below 0x20 (wrapped) or 0x80 and above, a quote or a backslash.
                if b &- 0x20 >= 0x60 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
                to[i] = b
            }
            count += text.count + 2
            base[count - 1] = UInt8(ascii: "\"")
            return true
        }
    }

    /// A page's bytes, written straight into the buffer its events will share: room is
    /// made before each row (a larger buffer, the bytes so far copied once, when needed).
    struct PageBytes {
        private(set) var buffer: ByteBuffer
        /// The bytes written so far.
        var count = 0

        init(capacity: Int) {
            buffer = ByteBuffer(capacity: capacity)
            buffer.base.bindMemory(to: UInt8.self, capacity: buffer.capacity)
        }

        /// The first byte not written yet (``reserve(_:)`` first).
        var end: UnsafeMutablePointer<UInt8> { (buffer.base + count).assumingMemoryBound(to: UInt8.self) }

        /// Makes room for `n` more bytes.
        @inline(__always)
        mutating func reserve(_ n: Int) {
            if count + n > buffer.capacity { grow(n) }
        }

        mutating func grow(_ n: Int) {
            let bigger = ByteBuffer(capacity: max(buffer.capacity * 2, count + n))
            bigger.base.bindMemory(to: UInt8.self, capacity: bigger.capacity)
            bigger.base.copyMemory(from: buffer.base, byteCount: count)
            buffer = bigger
        }

        @inline(__always)
        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            guard let from = bytes.baseAddress, !bytes.isEmpty else { return }
            reserve(bytes.count)
            (buffer.base + count).copyMemory(from: from, byteCount: bytes.count)
            count += bytes.count
        }

        mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            reserve(1)
            buffer.base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
            count += 1
        }
    }

    /// The metadata's keys as JSON text, each with its punctuation.
    enum Keys {
        static let position = Array(#"{"position":"#.utf8)
        static let stream = Array(#","stream":"#.utf8)
        static let version = Array(#","version":"#.utf8)
        static let id = Array(#","id":"#.utf8)
        static let type = Array(#","type":"#.utf8)
        static let schemaVersion = Array(#","schema_version":"#.utf8)
        static let eventTime = Array(#","event_time":"#.utf8)
        static let appendedAt = Array(#","appended_at":"#.utf8)
    }

    /// Whether `data` may have the top-level key `quotedKey` (the key in quotes): false
    /// for certain when the quoted key occurs nowhere and no escape could spell it
    /// otherwise, a quick search that spares most rows the exact check.
    static func mayHaveKey(_ quotedKey: [UInt8], in data: UnsafeRawBufferPointer) -> Bool {
        guard let base = data.baseAddress, !data.isEmpty else { return false }
        if memchr(base, Int32(UInt8(ascii: "\\")), data.count) != nil { return true }
        // Search for the key's first character (rarer than the quote before it) and
        // compare the key around each hit.
        let n = quotedKey.count
        guard n >= 3, data.count >= n else { return false }
        return quotedKey.withUnsafeBytes { key in
            guard let k = key.baseAddress else { return false }
            var from = 1
            while from <= data.count - n + 1,
                let hit = memchr(base + from, Int32(quotedKey[1]), data.count - n + 2 - from)
            {
                let at = base.distance(to: UnsafeRawPointer(hit)) - 1
                if memcmp(base + at, k, n) == 0 { return true }
                from = at + 2
            }
            return false
        }
    }

    static func metadata<Row: StoredEventRow>(_ row: Row) -> JSONObject {
        var m = JSONObject(minimumCapacity: 8)
        m.appendUnchecked(key: "position", value: .int(row.position))
        m.appendUnchecked(key: "stream", value: .string(row.streamID))
        m.appendUnchecked(key: "version", value: .int(row.version))
        m.appendUnchecked(key: "id", value: .string(row.eventID))
        m.appendUnchecked(key: "type", value: .string(row.type))
        m.appendUnchecked(key: "schema_version", value: .int(row.schemaVersion))
        m.appendUnchecked(key: "event_time", value: .int(row.eventTime))
        m.appendUnchecked(key: "appended_at", value: .int(row.appendedAt))
        return m
    }

    static func malformed<Row: StoredEventRow>(_ row: Row, _ message: String, line: Int) -> Event {
        var err = JSONObject(minimumCapacity: 3)
        err.appendUnchecked(key: "message", value: .string("position \(row.position): \(message)"))
        err.appendUnchecked(key: "line", value: .int(Int64(line)))
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "raw", value: .string(row.withData { String(decoding: $0, as: UTF8.self) }))
        return Event(.object(o), line: line)
    }
}
