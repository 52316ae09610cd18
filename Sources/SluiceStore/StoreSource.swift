import SluiceCore
import SluiceJSON

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
package final class StoreSource: EventSource {
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
        let store: any EventStoreBackend
        do {
            store = try spec.location.openForReading(follow: spec.follow)
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
            let n: Int
            do {
                n = try store.replay(spec.start, after: last, limit: pageSize) { row in
                    last = row.position
                    line += 1
                    let parsed = row.withData { bytes in Result { () throws(JSONError) in try JSONParser.parse(bytes) }
                    }
                    switch parsed {
                    case .success(.object(var o)):
                        if let field = spec.metadataField {
                            o[field] = .object(Self.metadata(row))
                        }
                        batch.append(Event(.object(o), line: line))
                    case .success(let v):
                        bad.append(malformed(row, "stored data is a JSON \(v.kindName), not an object", line: line))
                    case .failure(let e):
                        bad.append(malformed(row, "stored data is not valid JSON: \(e)", line: line))
                    }
                }
            } catch let e as StoreError {
                throw SourceError("input '\(name)': \(e.message)")
            }
            if !bad.isEmpty { out.emit(port: SourcePort.malformed, bad) }
            out.emit(batch)
            if n == pageSize { continue }
            guard spec.follow else { return }
            // Caught up: wait for appends, in short steps so a cancel is seen soon.
            store.waitForAppends(millis: spec.pollMillis) { out.isCancelled }
        }
    }

    static func metadata(_ row: any StoredEventRow) -> JSONObject {
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

    func malformed(_ row: any StoredEventRow, _ message: String, line: Int) -> Event {
        var err = JSONObject(minimumCapacity: 3)
        err.appendUnchecked(key: "message", value: .string("position \(row.position): \(message)"))
        err.appendUnchecked(key: "line", value: .int(Int64(line)))
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "raw", value: .string(row.withData { String(decoding: $0, as: UTF8.self) }))
        return Event(.object(o), line: line)
    }
}
