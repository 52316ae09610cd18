import SluiceCEL
import SluiceJSON
import SluiceSteps
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A projection table read by `lookup()` (docs/event-sourcing.md, "Read models as lookup
/// tables"): the whole table as a CEL map from key (text) to row (`{KEY_COLUMN: key,
/// column: value, ...}`).
///
/// Refresh rule: a lookup checks the projection's position in `sluice_projections` when
/// `refresh` has passed since the last check (the first lookup checks at once), and reads
/// the table again when the position moved. So a lookup at time T sees every change the
/// projection committed before T - `refresh`. A file or projection that does not exist
/// (yet) reads as an empty table, and is looked for again at the next check.
package final class ProjectionLookupTable: LiveTable {
    struct State {
        var reader: SQLiteProjectionReader
        var value: CELValue = .map(CELMap(minimumCapacity: 0))
        var position: Int64 = -1
        var layout = ""
        /// Monotonic milliseconds of the next check.
        var nextCheck: Int64 = 0
        /// Reloads so far (for tests and stats).
        var loads = 0
    }

    let state: Mutex<State>
    let refreshMillis: Int64

    package init(path: String, projection: String, refreshMillis: Int64) {
        state = Mutex(State(reader: SQLiteProjectionReader(path: path, name: projection)))
        self.refreshMillis = max(1, refreshMillis)
    }

    package var current: CELValue {
        let now = monotonicMillis()
        return state.withLock { s in
            if now >= s.nextCheck {
                s.nextCheck = now + refreshMillis
                refresh(&s)
            }
            return s.value
        }
    }

    /// How many times the table was read.
    package var loads: Int { state.withLock { $0.loads } }

    /// Reads the table again when the projection's position or layout moved; keeps the
    /// last table when the file cannot be read.
    func refresh(_ s: inout State) {
        guard let (position, table) = try? s.reader.state() else {
            s.reader.close()
            return
        }
        if position == s.position && table.layout == s.layout { return }
        var map = CELMap(minimumCapacity: 16)
        let keyColumn = CELValue.string(table.keyColumn)
        let names = table.columns.map { CELValue.string($0.name) }
        let read = try? s.reader.readAll { key, values in
            var row = CELMap(minimumCapacity: values.count + 1)
            row.insertOrReplace(keyColumn, .string(key))
            for (n, v) in zip(names, values) { row.insertOrReplace(n, CELValue(json: v)) }
            map.insertOrReplace(.string(key), .map(row))
        }
        guard let at = read else {
            s.reader.close()
            return
        }
        s.value = .map(map)
        s.position = at
        s.layout = table.layout
        s.loads += 1
    }
}

/// The monotonic clock in milliseconds.
func monotonicMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
