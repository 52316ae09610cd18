import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a `store` input reads (docs/event-sourcing.md, "The store input").
package struct StoreReadSpec: Sendable, Equatable {
    package var path: String
    package var start: ReplayStart
    /// Keep polling for new appends after the end.
    package var follow: Bool
    /// Milliseconds between polls in follow mode.
    package var pollMillis: Int
    /// The field that receives the stream metadata, or nil for none.
    package var metadataField: String?

    package init(path: String, start: ReplayStart, follow: Bool, pollMillis: Int, metadataField: String?) {
        self.path = path
        self.start = start
        self.follow = follow
        self.pollMillis = pollMillis
        self.metadataField = metadataField
    }
}

/// Replays an event store in global order, then (with `follow`) polls for new appends.
/// Each event is the stored JSON object with the stream metadata added under
/// ``StoreReadSpec/metadataField``. A row whose data is not a JSON object goes to the
/// input's `malformed` side output with the reason.
package final class StoreSource: EventSource, Sendable {
    package let name: String
    let spec: StoreReadSpec
    /// Rows read per query (and events per batch handed downstream).
    let pageSize: Int

    package init(name: String, spec: StoreReadSpec, pageSize: Int = 2048) {
        self.name = name
        self.spec = spec
        self.pageSize = max(1, pageSize)
    }

    package func run(_ out: SourceOutput) throws {
        let store: SQLiteEventStore
        do {
            store = try SQLiteEventStore.openForReading(path: spec.path)
        } catch {
            throw SourceError("input '\(name)': \(error.message)")
        }
        defer { store.close() }
        var last: Int64 = 0
        var line = 0
        while !out.isCancelled {
            var batch: [Event] = []
            var bad: [Event] = []
            batch.reserveCapacity(pageSize)
            // The page's events share one buffer of their stored bytes and stay raw: each is
            // validated, not parsed, and the metadata is spliced in when it is written.
            var bytes: [UInt8] = []
            var rows: [(start: Int, count: Int, line: Int, metadata: JSONObject?)] = []
            rows.reserveCapacity(pageSize)
            let n: Int
            do {
                n = try store.read(spec.start, after: last, limit: pageSize) { row in
                    last = row.position
                    line += 1
                    let problem: String? = row.withData { data in
                        if let e = JSONParser.validate(data) { return "stored data is not valid JSON: \(e)" }
                        guard let first = data.first(where: { !Self.isSpace($0) }), first == UInt8(ascii: "{"),
                            let end = data.last(where: { !Self.isSpace($0) }), end == UInt8(ascii: "}")
                        else {
                            let kind = (try? JSONParser.parse(data))?.kindName ?? "value"
                            return "stored data is a JSON \(kind), not an object"
                        }
                        let start = bytes.count
                        bytes.append(contentsOf: data)
                        rows.append((start, data.count, line, spec.metadataField.map { _ in Self.metadata(row) }))
                        return nil
                    }
                    if let problem { bad.append(malformed(row, problem, line: line)) }
                }
            } catch let e as StoreError {
                throw SourceError("input '\(name)': \(e.message)")
            }
            if !rows.isEmpty {
                let buffer = bytes.withUnsafeBytes { ByteBuffer(copying: $0) }
                for r in rows {
                    var event = Event(raw: buffer, start: r.start, count: r.count, line: r.line)
                    if let field = spec.metadataField, let m = r.metadata {
                        var fields = JSONObject(minimumCapacity: 1)
                        fields.appendUnchecked(key: field, value: .object(m))
                        // A stored event that has the field already (one replayed and
                        // appended again): replaced in the parsed event.
                        if !event.appendNewFields(fields), case .object(var o) = event.value {
                            o[field] = .object(m)
                            event = Event(.object(o), line: r.line)
                        }
                    }
                    batch.append(event)
                }
            }
            if !bad.isEmpty { out.emit(port: SourcePort.malformed, bad) }
            out.emit(batch)
            if n == pageSize { continue }
            guard spec.follow else { return }
            // Caught up: wait for appends, in short sleeps so a cancel is seen soon.
            var waited = 0
            while waited < spec.pollMillis && !out.isCancelled {
                let step = min(20, spec.pollMillis - waited)
                usleep(UInt32(step * 1000))
                waited += step
            }
        }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    static func metadata(_ row: StoredEventView) -> JSONObject {
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

    func malformed(_ row: StoredEventView, _ message: String, line: Int) -> Event {
        var err = JSONObject(minimumCapacity: 3)
        err.appendUnchecked(key: "message", value: .string("position \(row.position): \(message)"))
        err.appendUnchecked(key: "line", value: .int(Int64(line)))
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "raw", value: .string(row.withData { String(decoding: $0, as: UTF8.self) }))
        return Event(.object(o), line: line)
    }
}
