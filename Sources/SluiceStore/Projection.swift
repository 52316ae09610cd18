import SluiceJSON

/// The type of a projection column (docs/event-sourcing.md, "Projections").
package enum ProjectionColumnType: String, Sendable, CaseIterable, Equatable {
    case string, int, double, bool, json

    /// The SQL type the column is declared with.
    package var sqlType: String {
        switch self {
        case .string, .json: return "TEXT"
        case .int, .bool: return "INTEGER"
        case .double: return "REAL"
        }
    }

    /// The value a column of this type has in a row that was never set: `""`, `0`,
    /// `0.0`, `false`, `null`.
    package var zero: JSON {
        switch self {
        case .string: return .string("")
        case .int: return .int(0)
        case .double: return .double(0)
        case .bool: return .bool(false)
        case .json: return .null
        }
    }

    /// `value` as this column type stores it, or a message saying why it does not fit.
    /// Null fits every column; an integral double fits an `int` column and an integer a
    /// `double` one.
    package func coerce(_ value: JSON) -> Result<JSON, ProjectionValueError> {
        switch (self, value) {
        case (_, .null), (.json, _), (.string, .string), (.int, .int), (.double, .double), (.bool, .bool):
            return .success(value)
        case (.double, .int(let i)): return .success(.double(Double(i)))
        case (.int, .double(let d)) where d == d.rounded() && abs(d) < 9e18: return .success(.int(Int64(d)))
        default: return .failure(ProjectionValueError(message: "a \(rawValue) column cannot hold \(value.kindName)"))
        }
    }
}

/// Why a value does not fit a column.
package struct ProjectionValueError: Error, Sendable { package var message: String }

/// One declared column of a projection table.
package struct ProjectionColumn: Sendable, Equatable {
    package var name: String
    package var type: ProjectionColumnType
    /// The value of the column in a new row until an event sets it.
    package var initial: JSON

    package init(name: String, type: ProjectionColumnType, initial: JSON? = nil) {
        self.name = name
        self.type = type
        self.initial = initial ?? type.zero
    }
}

/// The shape of a projection table: its name, its key column (text, the primary key)
/// and its other columns, in order.
package struct ProjectionTable: Sendable, Equatable {
    package var name: String
    package var keyColumn: String
    package var columns: [ProjectionColumn]

    package init(name: String, keyColumn: String, columns: [ProjectionColumn]) {
        self.name = name
        self.keyColumn = keyColumn
        self.columns = columns
    }

    /// The layout recorded in `sluice_projections.layout`: `KEY|col:type|col:type`. A
    /// projection whose declared layout differs from the recorded one is refused until it
    /// is rebuilt.
    package var layout: String {
        ([keyColumn] + columns.map { "\($0.name):\($0.type.rawValue)" }).joined(separator: "|")
    }

    /// The key column and typed columns a recorded `layout` describes, or nil when it is
    /// not one.
    package static func parse(layout: String, name: String) -> ProjectionTable? {
        let parts = layout.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard let key = parts.first, !key.isEmpty else { return nil }
        var columns: [ProjectionColumn] = []
        for p in parts.dropFirst() {
            let nt = p.split(separator: ":").map(String.init)
            guard nt.count == 2, let t = ProjectionColumnType(rawValue: nt[1]) else { return nil }
            columns.append(ProjectionColumn(name: nt[0], type: t))
        }
        return ProjectionTable(name: name, keyColumn: key, columns: columns)
    }

    /// True for a name usable as a table or column: letters, digits and `_`, not
    /// starting with a digit.
    package static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !(("0"..."9").contains(first)) else { return false }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        }
    }
}

/// The database work a projection does, and nothing else: the seam between the fold
/// (``ProjectStep``) and a backend. ``SQLiteProjectionBackend`` implements it; a
/// PostgreSQL one implements the same calls.
///
/// Rows are addressed by their key (text); a row's values are the table's columns in
/// declared order, typed as ``ProjectionColumnType`` stores them. Every call but
/// ``begin()``, ``commit()`` and ``rollback()`` runs inside a transaction, and
/// ``setPosition(_:)`` is written in the same transaction as the rows, which is what
/// makes a projection exactly-once. Used by one thread at a time.
package protocol ProjectionBackend: AnyObject, Sendable {
    /// Starts a write transaction.
    func begin() throws(StoreError)
    /// Commits the transaction: its rows and position together, or (on a crash) neither.
    func commit() throws(StoreError)
    /// Abandons the transaction.
    func rollback()
    /// The row with `key`, or nil when there is none.
    func row(key: String) throws(StoreError) -> [JSON]?
    /// Inserts the row, or replaces the values of the row with that key.
    func upsert(key: String, values: [JSON]) throws(StoreError)
    /// Deletes the row with `key` (nothing when there is none).
    func delete(key: String) throws(StoreError)
    /// The position of the last event applied (0: none).
    func position() throws(StoreError) -> Int64
    /// Records the position of the last event applied.
    func setPosition(_ position: Int64) throws(StoreError)
    /// Releases the connection.
    func close()
}
