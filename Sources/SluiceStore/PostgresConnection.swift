import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection. Not thread-safe: one thread uses it at a time. No libpq type
/// leaves this file except as the opaque result of ``PostgresResult``.
final class PostgresConnection {
    /// The connection string with its password hidden, for messages.
    let name: String
    private var conn: OpaquePointer?
    /// The SQLSTATE and constraint of the last statement the server refused, if any.
    private(set) var lastSQLState: String?
    private(set) var lastConstraint: String?

    /// Connects; a failure (unreachable server, wrong password, missing database) throws
    /// libpq's reason on one line, never the password.
    init(_ connectionString: String) throws(StoreError) {
        name = redactedConnectionString(connectionString)
        // A connection string's own `connect_timeout` wins over this default (later
        // keywords override earlier ones; the string expands at `dbname`).
        let keywords = ["connect_timeout", "client_encoding", "application_name", "dbname"]
        let values = ["10", "UTF8", "sluice", connectionString]
        let c = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let c else { throw StoreError("cannot connect to store '\(name)': out of memory") }
        guard PQstatus(c) == CONNECTION_OK else {
            let why = oneLine(String(cString: PQerrorMessage(c)))
            PQfinish(c)
            throw StoreError("cannot connect to store '\(name)': \(why)")
        }
        conn = c
    }

    deinit { close() }

    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    var lastMessage: String { conn.map { oneLine(String(cString: PQerrorMessage($0))) } ?? "the connection is closed" }

    func failure(_ what: String) -> StoreError { StoreError("store '\(name)': \(what): \(lastMessage)") }

    private func open() throws(StoreError) -> OpaquePointer {
        guard let conn else { throw StoreError("store '\(name)' is closed") }
        return conn
    }

    /// Runs SQL (several statements allowed) and returns the last statement's result.
    @discardableResult
    func exec(_ sql: String) throws(StoreError) -> PostgresResult {
        let c = try open()
        return try check(PQexec(c, sql), sql)
    }

    /// Runs one statement with text parameters (`$1`, `$2`, ...; nil is NULL).
    @discardableResult
    func exec(_ sql: String, _ params: [String?]) throws(StoreError) -> PostgresResult {
        let c = try open()
        let result = withOptionalCStrings(params) { values in
            PQexecParams(c, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        return try check(result, sql)
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws(StoreError) -> PostgresResult {
        guard let result else { throw failure("'\(sql.prefix(40))'") }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN else {
            let message = oneLine(String(cString: PQresultErrorMessage(result)))
            noteRefusal(result)
            PQclear(result)
            throw StoreError("store '\(name)': \(message)")
        }
        return PostgresResult(result)
    }

    /// `COPY ... FROM STDIN` with `data` in COPY's text format.
    func copyIn(_ sql: String, _ data: [UInt8]) throws(StoreError) {
        let c = try open()
        _ = try exec(sql)
        let sent = data.withUnsafeBufferPointer { buf -> Int32 in
            var offset = 0
            // libpq takes an `int` length: send in chunks well below it.
            while offset < buf.count {
                let n = min(1 << 24, buf.count - offset)
                let rc =
                    buf.baseAddress.map { base in
                        base.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: n) {
                            PQputCopyData(c, $0, Int32(n))
                        }
                    } ?? 1
                if rc != 1 { return rc }
                offset += n
            }
            return 1
        }
        let ended = PQputCopyEnd(c, sent == 1 ? nil : "sluice: sending failed")
        var failure: StoreError? = sent == 1 && ended == 1 ? nil : self.failure("COPY")
        while let r = PQgetResult(c) {
            if PQresultStatus(r) != PGRES_COMMAND_OK && failure == nil {
                noteRefusal(r)
                failure = StoreError("store '\(name)': \(oneLine(String(cString: PQresultErrorMessage(r))))")
            }
            PQclear(r)
        }
        if let failure { throw failure }
    }

    private func noteRefusal(_ result: OpaquePointer) {
        // 'C' and 'n': PG_DIAG_SQLSTATE and PG_DIAG_CONSTRAINT_NAME (char macros).
        lastSQLState = PQresultErrorField(result, 67).map { String(cString: $0) }
        lastConstraint = PQresultErrorField(result, 110).map { String(cString: $0) }
    }

    /// The connection's socket, for waiting on notifications.
    var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// Reads what the server sent and returns whether a notification arrived (each is
    /// consumed). False also when the connection broke.
    func drainNotifications() -> Bool {
        guard let conn, PQconsumeInput(conn) == 1 else { return false }
        var any = false
        while let n = PQnotifies(conn) {
            any = true
            PQfreemem(n)
        }
        return any
    }
}

/// A query's result, cleared when released.
final class PostgresResult {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    var rows: Int { Int(PQntuples(handle)) }
    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    func text(_ row: Int, _ column: Int) -> String {
        withBytes(row, column) { String(decoding: $0, as: UTF8.self) }
    }

    /// The value's text bytes, lent for the call.
    func withBytes<R>(_ row: Int, _ column: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let p = PQgetvalue(handle, Int32(row), Int32(column))
        let n = Int(PQgetlength(handle, Int32(row), Int32(column)))
        return body(UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n))
    }

    /// A `bigint` column in text form.
    func int(_ row: Int, _ column: Int) -> Int64 {
        withBytes(row, column) { bytes in
            var v: Int64 = 0
            var negative = false
            for b in bytes {
                if b == UInt8(ascii: "-") {
                    negative = true
                } else if b >= 48 && b <= 57 {
                    v = v &* 10 &+ Int64(b - 48)
                }
            }
            return negative ? -v : v
        }
    }
}

/// libpq's messages span lines (a `DETAIL:`, a hint): one line, trimmed.
func oneLine(_ s: String) -> String {
    s.split(whereSeparator: { $0 == "\n" || $0 == "\t" || $0 == "\r" }).map { $0.trimmingSpaces }
        .filter { !$0.isEmpty }.joined(separator: " ")
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStrings(strings, body)
}

/// Calls `body` with an array of C strings (nil stays NULL) and a NULL after the last,
/// valid during the call.
private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { s in s.map { strdup($0) } ?? nil }
    owned.append(nil)
    defer { for p in owned { free(p) } }
    return owned.withUnsafeBufferPointer { buf in
        UnsafeRawPointer(buf.baseAddress).map { body($0.assumingMemoryBound(to: UnsafePointer<CChar>?.self)) }
            ?? withUnsafePointer(to: UnsafePointer<CChar>?.none) { body($0) }
    }
}
