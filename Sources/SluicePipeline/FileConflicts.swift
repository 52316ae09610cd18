#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds files that a run would both read and write, or write twice, before anything is
/// opened for writing: opening an output truncates it, so `--input s.jsonl --output
/// s.jsonl` would read an empty file, and two outputs on one file overwrite each other.
///
/// Files are compared by device and inode (so `out.jsonl`, `./out.jsonl` and a symlink to
/// it are one file); a file that does not exist yet by its resolved path. Only regular
/// files count: two writers to `/dev/null` or a terminal are fine.
struct FileConflicts {
    /// A file, as the run names it: `output 'out' (out.jsonl)`.
    struct Use {
        var role: String
        var path: String
        var description: String { "\(role) (\(path))" }
    }

    enum Key: Hashable {
        case inode(dev: UInt64, ino: UInt64)
        case path(String)
    }

    private var readers: [(Key, Use)] = []
    private var writers: [(Key, Use)] = []

    /// An input reading `path` (`-` for standard input).
    mutating func read(_ path: String, as role: String) {
        if let key = path == "-" ? Self.key(fd: 0) : Self.key(path: path, mustExist: true) {
            readers.append((key, Use(role: role, path: path == "-" ? "standard input" : path)))
        }
    }

    /// An output writing `path` (`-` for standard output).
    mutating func write(_ path: String, as role: String) {
        if let key = path == "-" ? Self.key(fd: 1) : Self.key(path: path, mustExist: false) {
            writers.append((key, Use(role: role, path: path == "-" ? "standard output" : path)))
        }
    }

    /// The first conflict, as a message, or nil.
    func check() -> String? {
        for (i, (key, use)) in writers.enumerated() {
            for (otherKey, other) in writers[..<i] where otherKey == key {
                // Outputs that all go to standard output share its descriptor: one writer.
                if use.path == "standard output" && other.path == "standard output" { continue }
                return "\(other.description) and \(use.description) write to the same file; "
                    + "each would overwrite the other's lines: give them different files"
            }
            for (readKey, reader) in readers where readKey == key {
                return "\(use.description) is the file that \(reader.description) reads: opening it for writing "
                    + "would empty it before it is read; write the output elsewhere"
            }
        }
        return nil
    }

    /// The identity of the regular file behind `fd`, or nil.
    static func key(fd: Int32) -> Key? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return .inode(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    /// The identity of the file at `path`: its inode when it exists and is a regular
    /// file; nil when it exists but is something else (a device, a pipe), or when it
    /// does not exist and `mustExist` (a missing input fails later with its own error);
    /// else its resolved path.
    static func key(path: String, mustExist: Bool) -> Key? {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return .inode(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
        }
        if mustExist { return nil }
        // Not there yet: the resolved folder and the name.
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let resolved = realpath(dir, nil) else { return .path(path) }
        defer { free(resolved) }
        return .path(String(cString: resolved) + "/" + name)
    }
}
