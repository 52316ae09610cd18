import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How structured log lines look (`--log-format`).
package enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-07T02:00:00Z info  run started pipeline=quickstart`.
    case text
    /// One JSON object a line: `{"ts":...,"level":"info","message":...,"pipeline":...}`.
    case json
}

/// swift-log's handler for `sluice run`'s structured logs: one line per record, on stderr.
package struct StderrLogHandler: LogHandler {
    package var logLevel: Logger.Level
    package var metadata: Logger.Metadata = [:]
    let format: LogFormat
    let label: String

    package init(label: String, format: LogFormat, level: Logger.Level) {
        self.label = label
        self.format = format
        logLevel = level
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        let line = Self.render(
            format: format, time: Self.timestamp(), level: event.level, message: "\(event.message)", metadata: all)
        var text = line + "\n"
        text.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
    }

    /// One record as a line (no newline).
    package static func render(
        format: LogFormat, time: String, level: Logger.Level, message: String, metadata: Logger.Metadata
    ) -> String {
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var s = "\(time) \(level.rawValue) \(message)"
            for k in keys { s += " \(k)=\(quoteIfNeeded("\(metadata[k].map { "\($0)" } ?? "")"))" }
            return s
        case .json:
            var s =
                "{\"ts\":\(jsonString(time)),\"level\":\(jsonString(level.rawValue)),\"message\":\(jsonString(message))"
            for k in keys where !["ts", "level", "message"].contains(k) {
                s += ",\(jsonString(k)):\(jsonString(metadata[k].map { "\($0)" } ?? ""))"
            }
            return s + "}"
        }
    }

    static func quoteIfNeeded(_ s: String) -> String {
        s.isEmpty || s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? jsonString(s) : s
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// UTC, to the millisecond: `2026-12-07T02:00:00.123Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ x: Int32) -> String { x < 10 ? "0\(x)" : "\(x)" }
        let ms = Int(ts.tv_nsec / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return
            "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)).\(msText)Z"
    }
}
