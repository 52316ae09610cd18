import CSQLite
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A projection table in a SQLite file (docs/event-sourcing.md, "Projection tables").
///
/// The file may be an event store or any SQLite file Sluice may write: the first open
/// creates `sluice_projections` (one row per projection: its table, layout and
/// position) and the table. A table of that name that Sluice did not make, or one made
/// with other columns, is refused. Used by one thread at a time (the output's), so the
/// connection it owns is never shared: hence `@unchecked Sendable`.
package final class SQLiteProjectionBackend: ProjectionBackend, @unchecked Sendable {
    package static let metaSchema = """
        CREATE TABLE IF NOT EXISTS sluice_projections (
            name TEXT PRIMARY KEY,
            layout TEXT NOT NULL,
            position INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        """

    let connection: SQLiteConnection
    package let table: ProjectionTable
    let selectSQL: String
    let upsertSQL: String
    let deleteSQL: String

    /// Opens (creating when missing) the file at `path` and the projection table.
    package init(path: String, table: ProjectionTable) throws(StoreError) {
        self.table = table
        let c = try SQLiteConnection(path: path, readOnly: false, create: true)
        connection = c
        let t = quoted(table.name)
        let k = quoted(table.keyColumn)
        let cols = table.columns.map { quoted($0.name) }
        selectSQL = "SELECT \(cols.isEmpty ? "1" : cols.joined(separator: ", ")) FROM \(t) WHERE \(k) = ?1"
        let params = (0...cols.count).map { "?\($0 + 1)" }.joined(separator: ", ")
        let update =
            cols.isEmpty ? "NOTHING" : "UPDATE SET " + cols.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        upsertSQL =
            "INSERT INTO \(t) (\(([k] + cols).joined(separator: ", "))) VALUES (\(params)) ON CONFLICT (\(k)) DO \(update)"
        deleteSQL = "DELETE FROM \(t) WHERE \(k) = ?1"
        try c.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;")
        try c.exec("BEGIN IMMEDIATE")
        do throws(StoreError) {
            try c.exec(Self.metaSchema)
            if let recorded = try recordedLayout() {
                guard recorded == table.layout else {
                    throw StoreError(
                        "projection '\(table.name)' in '\(path)' was built with the columns \(Self.describe(recorded)); the pipeline declares \(Self.describe(table.layout)); rebuild it with 'sluice project rebuild PIPELINE --projection \(table.name)'"
                    )
                }
                guard try SQLiteEventStore.tableExists(c, table.name) else {
                    throw StoreError("projection '\(table.name)' in '\(path)': its table is missing; rebuild it")
                }
            } else {
                if try SQLiteEventStore.tableExists(c, table.name) {
                    throw StoreError(
                        "'\(path)' has a table '\(table.name)' that is not a Sluice projection; choose another 'table:' name"
                    )
                }
                try create()
            }
            try c.exec("COMMIT")
        } catch {
            try? c.exec("ROLLBACK")
            c.close()
            throw error
        }
    }

    /// `KEY|a:int|b:string` as `KEY (key), a int, b string`.
    static func describe(_ layout: String) -> String {
        let parts = layout.split(separator: "|").map { $0.replacingOccurrences(of: ":", with: " ") }
        guard let first = parts.first else { return "(none)" }
        return ([first + " (key)"] + parts.dropFirst()).joined(separator: ", ")
    }

    /// The layout `sluice_projections` records for the table, or nil when it has none.
    func recordedLayout() throws(StoreError) -> String? {
        let s = try connection.statement("SELECT layout FROM sluice_projections WHERE name = ?1")
        s.bind(1, table.name)
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }

    /// Makes the table and its `sluice_projections` row (position 0).
    func create() throws(StoreError) {
        let cols = table.columns.map { "\(quoted($0.name)) \($0.type.sqlType)" }
        let ddl = ([quoted(table.keyColumn) + " TEXT PRIMARY KEY NOT NULL"] + cols).joined(separator: ", ")
        try connection.exec("CREATE TABLE \(quoted(table.name)) (\(ddl))")
        let s = try connection.statement(
            """
            INSERT INTO sluice_projections (name, layout, position, updated_at) VALUES (?1, ?2, 0, ?3)
            ON CONFLICT (name) DO UPDATE SET layout = excluded.layout, position = 0, updated_at = excluded.updated_at
            """)
        s.bind(1, table.name)
        s.bind(2, table.layout)
        s.bind(3, currentMillis())
        try s.run()
    }

    package func begin() throws(StoreError) { try connection.exec("BEGIN IMMEDIATE") }
    package func commit() throws(StoreError) { try connection.exec("COMMIT") }
    package func rollback() { try? connection.exec("ROLLBACK") }

    package func row(key: String) throws(StoreError) -> [JSON]? {
        let s = try connection.statement(selectSQL)
        s.bind(1, key)
        defer { s.reset() }
        guard try s.step() else { return nil }
        var values: [JSON] = []
        values.reserveCapacity(table.columns.count)
        for (i, c) in table.columns.enumerated() { values.append(s.value(Int32(i), c.type)) }
        return values
    }

    package func upsert(key: String, values: [JSON]) throws(StoreError) {
        let s = try connection.statement(upsertSQL)
        s.bind(1, key)
        for (i, v) in values.enumerated() { s.bind(Int32(i + 2), v, asJSON: table.columns[i].type == .json) }
        try s.run()
    }

    package func delete(key: String) throws(StoreError) {
        let s = try connection.statement(deleteSQL)
        s.bind(1, key)
        try s.run()
    }

    package func position() throws(StoreError) -> Int64 {
        let s = try connection.statement("SELECT position FROM sluice_projections WHERE name = ?1")
        s.bind(1, table.name)
        defer { s.reset() }
        return try s.step() ? s.int(0) : 0
    }

    package func setPosition(_ position: Int64) throws(StoreError) {
        let s = try connection.statement(
            "UPDATE sluice_projections SET position = ?2, updated_at = ?3 WHERE name = ?1")
        s.bind(1, table.name)
        s.bind(2, position)
        s.bind(3, currentMillis())
        try s.run()
    }

    /// Drops the projection `table` from the file at `path` (its table and its
    /// `sluice_projections` row, in one transaction), so that the next open makes it
    /// empty: the start of a rebuild. A table of that name that is not a projection is
    /// refused; a file or projection that does not exist is left alone.
    package static func drop(path: String, table: String) throws(StoreError) {
        if access(path, F_OK) != 0 { return }
        let c = try SQLiteConnection(path: path, readOnly: false, create: false)
        defer { c.close() }
        try c.exec("BEGIN IMMEDIATE")
        do throws(StoreError) {
            var ours = false
            if try SQLiteEventStore.tableExists(c, "sluice_projections") {
                let s = try c.statement("DELETE FROM sluice_projections WHERE name = ?1")
                s.bind(1, table)
                try s.run()
                ours = c.changes > 0
            }
            let exists = try SQLiteEventStore.tableExists(c, table)
            if !ours && exists {
                throw StoreError("'\(path)' has a table '\(table)' that is not a Sluice projection; it is left alone")
            }
            try c.exec("DROP TABLE IF EXISTS \(quoted(table))")
            try c.exec("COMMIT")
        } catch {
            try? c.exec("ROLLBACK")
            throw error
        }
    }

    package func close() { connection.close() }
}

/// Reads a whole projection table, for `lookup()` (docs/event-sourcing.md, "Read models
/// as lookup tables"). Opens the file read-only; a missing file or projection reads as
/// no table yet.
package final class SQLiteProjectionReader {
    let path: String
    let name: String
    var connection: SQLiteConnection?

    package init(path: String, name: String) {
        self.path = path
        self.name = name
    }

    /// The read-only connection, opened on first use; nil while the file does not exist.
    func open() -> SQLiteConnection? {
        if let connection { return connection }
        guard access(path, F_OK) == 0, let c = try? SQLiteConnection(path: path, readOnly: true, create: false) else {
            return nil
        }
        connection = c
        return c
    }

    /// The projection's position and layout, or nil when the file or projection does not
    /// exist (yet).
    package func state() throws(StoreError) -> (position: Int64, table: ProjectionTable)? {
        guard let c = open() else { return nil }
        guard try SQLiteEventStore.tableExists(c, "sluice_projections") else { return nil }
        let s = try c.statement("SELECT position, layout FROM sluice_projections WHERE name = ?1")
        s.bind(1, name)
        defer { s.reset() }
        guard try s.step() else { return nil }
        let position = s.int(0)
        guard let table = ProjectionTable.parse(layout: s.text(1), name: name) else {
            throw StoreError("projection '\(name)' in '\(path)' has a layout this Sluice cannot read")
        }
        return (position, table)
    }

    /// Every row, as `(key, values)`, with the position they are current at, read in one
    /// transaction so rows and position agree.
    package func readAll(_ body: (String, [JSON]) -> Void) throws(StoreError) -> Int64? {
        guard let c = open() else { return nil }
        try c.exec("BEGIN")
        defer { try? c.exec("COMMIT") }
        guard let (position, table) = try state() else { return nil }
        let cols = ([table.keyColumn] + table.columns.map(\.name)).map(quoted).joined(separator: ", ")
        let s = try c.statement("SELECT \(cols) FROM \(quoted(table.name))")
        defer { s.reset() }
        var values: [JSON] = []
        while try s.step() {
            values.removeAll(keepingCapacity: true)
            for (i, col) in table.columns.enumerated() { values.append(s.value(Int32(i + 1), col.type)) }
            body(s.text(0), values)
        }
        return position
    }

    package func close() {
        connection?.close()
        connection = nil
    }
}

/// `name` as a quoted SQL identifier.
func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

extension Statement {
    /// Column `column` as a double.
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    /// Column `column` read as a projection column of type `type`.
    func value(_ column: Int32, _ type: ProjectionColumnType) -> JSON {
        if isNull(column) { return .null }
        switch type {
        case .string: return .string(text(column))
        case .int: return .int(int(column))
        case .double: return .double(double(column))
        case .bool: return .bool(int(column) != 0)
        case .json: return withTextBytes(column) { (try? JSONParser.parse($0)) ?? .null }
        }
    }

    /// Binds a projection value: null, an integer, a double, a bool (0 or 1), a string,
    /// or (for a `json` column, and arrays and objects) its JSON text.
    func bind(_ index: Int32, _ value: JSON, asJSON: Bool) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case _ where asJSON:
            var text: [UInt8] = []
            JSONWriter.write(value, into: &text)
            bind(index, bytes: text)
        case .bool(let b): sqlite3_bind_int64(handle, index, b ? 1 : 0)
        case .int(let i): sqlite3_bind_int64(handle, index, i)
        case .double(let d): sqlite3_bind_double(handle, index, d)
        case .string(let s): bind(index, s)
        case .array, .object:
            var text: [UInt8] = []
            JSONWriter.write(value, into: &text)
            bind(index, bytes: text)
        }
    }
}
