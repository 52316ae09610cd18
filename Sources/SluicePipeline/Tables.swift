import SluiceCEL
import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Lookup tables (`tables:`), loaded once when the pipeline is compiled.
///
/// ```yaml
/// tables:
///   users: { file: data/users.csv, key: id }   # csv with a header row | jsonl | json
/// ```
/// Each table becomes a CEL map from key to row, read with `lookup(users, user_id)`
/// (null when absent). CSV cells that read as JSON numbers or booleans become numbers or
/// booleans, so `lookup(users, 42).age > 30` works; every other cell is a string.
/// Why a table could not be loaded.
struct TableError: Error {
    var message: String
    init(_ m: String) { message = m }
}

enum TableLoader {
    enum Format: String, CaseIterable {
        case csv, jsonl, json
    }

    /// Loads `path` as `format` (guessed from the extension when nil), keyed by column
    /// or field `key`. Returns the table or an error message.
    static func load(path: String, format: Format?, key: String) -> Result<CELValue, TableError> {
        let fmt: Format
        if let format {
            fmt = format
        } else if path.hasSuffix(".csv") {
            fmt = .csv
        } else if path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson") {
            fmt = .jsonl
        } else if path.hasSuffix(".json") {
            fmt = .json
        } else {
            return .failure(
                TableError("cannot tell the format of '\(path)' from its name; add 'format: csv|jsonl|json'"))
        }
        let bytes: [UInt8]
        switch FileBytes.read(path) {
        case .success(let b): bytes = b
        case .failure(let e): return .failure(TableError("cannot read table file '\(path)': \(e.message)"))
        }
        var rows: [JSON] = []
        switch fmt {
        case .csv:
            switch parseCSV(bytes) {
            case .success(let r): rows = r
            case .failure(let m): return .failure(TableError("\(path): \(m)"))
            }
        case .jsonl:
            var lineNo = 0
            for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                lineNo += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                do {
                    rows.append(try JSONParser.parse(Array(line)))
                } catch {
                    return .failure(TableError("\(path):\(lineNo): invalid JSON: \(error.message)"))
                }
            }
        case .json:
            do {
                guard case .array(let a) = try JSONParser.parse(bytes) else {
                    return .failure(TableError("\(path): expected a JSON array of objects"))
                }
                rows = a
            } catch {
                return .failure(TableError("\(path): invalid JSON: \(error.message)"))
            }
        }
        var map = CELMap(minimumCapacity: rows.count)
        for (i, row) in rows.enumerated() {
            guard case .object(let o) = row else {
                return .failure(TableError("\(path): row \(i + 1) is not an object"))
            }
            guard let k = o[key], k != .null else {
                return .failure(TableError("\(path): row \(i + 1) has no key field '\(key)'"))
            }
            map.insertOrReplace(CELValue(json: k), CELValue(json: row))
        }
        return .success(.map(map))
    }

    /// RFC 4180 CSV with a header row: quoted fields, doubled quotes, CRLF or LF.
    static func parseCSV(_ bytes: [UInt8]) -> Result<[JSON], TableError> {
        var records: [[String]] = []
        var field: [UInt8] = []
        var record: [String] = []
        var i = 0
        var inQuotes = false
        var line = 1
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == 0x22 {
                    if i + 1 < bytes.count && bytes[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 2
                        continue
                    }
                    inQuotes = false
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case 0x22 where field.isEmpty: inQuotes = true
            case 0x2C: endField()
            case 0x0D: break
            case 0x0A:
                endField()
                if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
                record = []
                line += 1
            default: field.append(b)
            }
            i += 1
        }
        if inQuotes { return .failure(TableError("line \(line): unterminated quoted field")) }
        if !field.isEmpty || !record.isEmpty {
            endField()
            records.append(record)
        }
        guard let header = records.first else { return .failure(TableError("empty CSV file (a header row is needed)")) }
        var rows: [JSON] = []
        for (n, r) in records.dropFirst().enumerated() {
            guard r.count == header.count else {
                return .failure(TableError("row \(n + 2) has \(r.count) fields, the header has \(header.count)"))
            }
            var o = JSONObject(minimumCapacity: header.count)
            for (h, cell) in zip(header, r) { o[h] = csvCell(cell) }
            rows.append(.object(o))
        }
        return .success(rows)
    }

    static func csvCell(_ s: String) -> JSON {
        guard let first = s.utf8.first else { return .string(s) }
        if s == "true" { return .bool(true) }
        if s == "false" { return .bool(false) }
        if first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) {
            if let v = try? JSONParser.parse(s), case .int = v { return v }
            if let v = try? JSONParser.parse(s), case .double = v { return v }
        }
        return .string(s)
    }
}
