#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a file could not be read: the system's words (`No such file or directory`).
@usableFromInline package struct FileReadError: Error, Sendable, CustomStringConvertible {
    @usableFromInline package var message: String
    @usableFromInline package init(_ message: String) { self.message = message }
    @usableFromInline package var description: String { message }
}

/// Reads whole files that configuration points at (pipelines, schemas, tables).
@usableFromInline package enum FileBytes {
    /// The bytes of the file at `path`, or the reason it cannot be read.
    @usableFromInline package static func read(_ path: String) -> Result<[UInt8], FileReadError> {
        guard let f = fopen(path, "rb") else { return .failure(FileReadError(String(cString: strerror(errno)))) }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { out.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(f) != 0 { return .failure(FileReadError(String(cString: strerror(errno)))) }
                return .success(out)
            }
        }
    }
}

/// Writes `sluice: TEXT` as one line to standard error with one `write` (not through
/// glibc's `stderr`, which Swift 6 does not allow): the connectors' warnings and notes.
package func warnLine(_ text: String) {
    var bytes = Array(("sluice: " + text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
