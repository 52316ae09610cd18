import CSQLite

/// A failure of the event store: a file that cannot be opened, a table layout Sluice did
/// not make, a write the database refused. The message names the file.
package struct StoreError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// SQLite's memory statistics turned off, once, before the process's first connection
/// (`SQLITE_CONFIG_MEMSTATUS`): Sluice never reads them, and keeping them costs a
/// process-wide mutex around every allocation SQLite makes (an append makes several per
/// event). False when SQLite was already initialized, which changes nothing else.
private let memoryStatisticsOff: Bool = sluice_sqlite3_disable_memstatus() == SQLITE_OK

/// One SQLite connection with its prepared statements. Not thread-safe: one thread uses it
/// at a time (the stage that appends, or the source that reads). No SQLite type leaves
/// this file.
final class SQLiteConnection {
    let path: String
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens `path`; `create` makes the file when it is missing.
    init(path: String, readOnly: Bool, create: Bool) throws(StoreError) {
        self.path = path
        _ = memoryStatisticsOff
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let why = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw StoreError("cannot open store '\(path)': \(why)")
        }
        db = handle
        // Another connection holding the write lock makes us wait, not fail.
        sqlite3_busy_timeout(handle, 10_000)
        if !readOnly && sqlite3_db_readonly(handle, "main") == 1 {
            close()
            throw StoreError("cannot write store '\(path)': the file (or its folder) is read-only")
        }
    }

    deinit { close() }

    func close() {
        for (_, s) in statements { sqlite3_finalize(s) }
        statements = [:]
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    var lastMessage: String { db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    func failure(_ what: String) -> StoreError { StoreError("store '\(path)': \(what): \(lastMessage)") }

    /// Runs SQL that returns no rows (several statements allowed).
    func exec(_ sql: String) throws(StoreError) {
        guard let db else { throw StoreError("store '\(path)' is closed") }
        if sqlite3_exec(db, sql, nil, nil, nil) != SQLITE_OK { throw failure(String(sql.prefix(40))) }
    }

    /// A prepared statement, reset and with its bindings cleared, kept for reuse.
    func statement(_ sql: String) throws(StoreError) -> Statement {
        guard let db else { throw StoreError("store '\(path)' is closed") }
        if let s = statements[sql] {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
            return Statement(handle: s, connection: self)
        }
        var s: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil) == SQLITE_OK, let s else {
            throw failure("cannot prepare '\(sql)'")
        }
        statements[sql] = s
        return Statement(handle: s, connection: self)
    }

    /// True while a transaction is open (SQLite rolls one back by itself after some
    /// errors, such as a full disk).
    var inTransaction: Bool { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    var changes: Int { db.map { Int(sqlite3_changes($0)) } ?? 0 }
    var lastInsertRowID: Int64 { db.map { sqlite3_last_insert_rowid($0) } ?? 0 }
}

/// A prepared statement being bound and stepped.
struct Statement {
    let handle: OpaquePointer
    let connection: SQLiteConnection

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: String) {
        var v = value
        v.withUTF8 { buf in
            if let base = buf.baseAddress {
                base.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                    _ = sluice_sqlite3_bind_text(handle, index, $0, Int32(buf.count))
                }
            } else {
                _ = sluice_sqlite3_bind_text(handle, index, "", 0)
            }
        }
    }

    func bind(_ index: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress?.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                _ = sluice_sqlite3_bind_text(handle, index, $0, Int32(buf.count))
            }
        }
        if bytes.isEmpty { _ = sluice_sqlite3_bind_text(handle, index, "", 0) }
    }

    /// Binds `count` bytes at `text` as text without copying them: they must stay valid
    /// and unchanged until the statement has been stepped and ``clearBindings()`` called.
    func bindStatic(_ index: Int32, _ text: UnsafePointer<UInt8>, count: Int) {
        text.withMemoryRebound(to: CChar.self, capacity: count) {
            _ = sluice_sqlite3_bind_text_static(handle, index, $0, Int32(count))
        }
    }

    /// Sets every parameter back to NULL (so that none points at bytes bound without a copy).
    func clearBindings() { sqlite3_clear_bindings(handle) }

    /// Steps a statement that returns no rows to its end and resets it, returning SQLite's
    /// result: `SQLITE_DONE`, or the error (`SQLITE_CONSTRAINT` for a unique key already
    /// taken).
    func runResult() -> Int32 {
        var rc = sqlite3_step(handle)
        while rc == SQLITE_ROW { rc = sqlite3_step(handle) }
        sqlite3_reset(handle)
        return rc
    }

    /// Steps once: true when a row is ready, false when done.
    func step() throws(StoreError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let e = connection.failure("statement failed")
            sqlite3_reset(handle)
            throw e
        }
    }

    /// Steps to the end of a statement that returns no rows.
    func run() throws(StoreError) {
        while try step() {}
        sqlite3_reset(handle)
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// The column's text bytes, lent for the call.
    func withTextBytes<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let p = sqlite3_column_text(handle, column) else {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let n = Int(sqlite3_column_bytes(handle, column))
        return body(UnsafeRawBufferPointer(start: p, count: n))
    }

    func reset() { sqlite3_reset(handle) }
}
