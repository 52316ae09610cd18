import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The checkpoint directory on disk (docs/checkpoints.md, "On disk"):
///
/// ```
///  DIR/lock                    held (flock) by the run using DIR
///  DIR/chk-0000000012/         one directory per checkpoint, the newest 3 kept
///      MANIFEST                format, fingerprint, id, and each file's size and CRC-32,
///                              then a line with the CRC-32 of the lines before it
///      ends                    sources' positions and sinks' lengths
///      stage-0, stage-1, ...   one per stream stage
///  DIR/.tmp-chk-0000000013/    being written; renamed once every file is fsync'd
/// ```
/// A checkpoint whose manifest or files do not match their checksums (torn by a crash,
/// damaged later) is skipped with a warning, and the one before it used.
package final class CheckpointStore: Sendable {
    /// The version of the layout above; a checkpoint of another version is refused.
    package static let formatVersion = 1
    /// Checkpoints kept.
    package static let keep = 3

    package let directory: String
    /// The lock file's descriptor, held until ``unlock()`` (or the end of the store).
    private let lockFD: Mutex<Int32>

    /// Opens (creating it if need be) and locks `directory`; throws when it cannot be
    /// created, or another run holds it (for longer than `waitSeconds`).
    package init(directory: String, waitSeconds: Double = 0) throws(StateError) {
        self.directory = directory
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw StateError("cannot create checkpoint directory '\(directory)': \(String(cString: strerror(errno)))")
        }
        let fd = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw StateError("cannot open '\(directory)/lock': \(String(cString: strerror(errno)))")
        }
        var waited = 0.0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && waited < waitSeconds {
            usleep(100_000)
            waited += 0.1
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            _ = close(fd)
            if e == EWOULDBLOCK {
                throw StateError(
                    "checkpoint directory '\(directory)' is in use by another run (its lock file '\(directory)/lock' is held); stop that run, or give this one another --checkpoint-dir"
                )
            }
            throw StateError("cannot lock '\(directory)/lock': \(String(cString: strerror(e)))")
        }
        lockFD = Mutex(fd)
    }

    /// Opens `directory` to read its checkpoints while another run holds it (a
    /// checkpoint is complete once it has its name, and never changes after): how a
    /// scale-out Kafka member reads the offsets its partitions' processes checkpointed.
    /// Reading may fail while that run removes an old checkpoint; try again later.
    package init(reading directory: String) {
        self.directory = directory
        lockFD = Mutex(-1)
    }

    /// Lets another run use the directory (the run is over).
    package func unlock() {
        lockFD.withLock { fd in
            if fd >= 0 { _ = close(fd) }
            fd = -1
        }
    }

    deinit { unlock() }

    static func dirName(_ id: Int) -> String {
        let digits = String(id)
        return "chk-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }

    /// Ids of the checkpoint directories present, newest first.
    package func ids() -> [Int] {
        names().compactMap { n in n.hasPrefix("chk-") ? Int(n.dropFirst(4)) : nil }.sorted(by: >)
    }

    private func names() -> [String] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    // MARK: Writing

    /// Writes `checkpoint` under a temporary name, fsyncs every file and the directory,
    /// renames it into place, then removes all but the newest ``keep``. Returns the bytes
    /// written.
    @discardableResult
    package func write(_ checkpoint: Checkpoint) throws(StateError) -> Int {
        let final = directory + "/" + Self.dirName(checkpoint.id)
        let temp = directory + "/.tmp-" + Self.dirName(checkpoint.id)
        removeTree(temp)
        if mkdir(temp, 0o755) != 0 {
            throw StateError("cannot create '\(temp)': \(String(cString: strerror(errno)))")
        }
        var files: [(name: String, bytes: [UInt8])] = [("ends", checkpoint.encodedEnds())]
        for (i, name) in checkpoint.stages.keys.sorted().enumerated() {
            if let s = checkpoint.stages[name] { files.append(("stage-\(i)", s.encoded())) }
        }
        var entries: [JSON] = []
        var total = 0
        for f in files {
            try writeFile(temp + "/" + f.name, f.bytes)
            total += f.bytes.count
            entries.append([
                "name": .string(f.name), "bytes": .int(Int64(f.bytes.count)),
                "crc32": .int(Int64(CRC32.checksum(f.bytes))),
            ])
        }
        let manifest = Self.manifestText(checkpoint, files: entries)
        try writeFile(temp + "/MANIFEST", manifest)
        total += manifest.count
        try syncDirectory(temp)
        removeTree(final)
        if rename(temp, final) != 0 {
            throw StateError("cannot rename '\(temp)' to '\(final)': \(String(cString: strerror(errno)))")
        }
        try syncDirectory(directory)
        for old in ids().dropFirst(Self.keep) { removeTree(directory + "/" + Self.dirName(old)) }
        return total
    }

    static func manifestText(_ c: Checkpoint, files: [JSON]) -> [UInt8] {
        let body: JSON = [
            "format": .int(Int64(formatVersion)), "fingerprint": .string(c.fingerprint), "id": .int(Int64(c.id)),
            "files": .array(files),
        ]
        var text = Array((body.description + "\n").utf8)
        text += Array("crc32 \(CRC32.checksum(text))\n".utf8)
        return text
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) throws(StateError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateError("cannot create '\(path)': \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { b in Glibc.write(fd, b.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateError("cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
            done += n
        }
        if fsync(fd) != 0 { throw StateError("cannot fsync '\(path)': \(String(cString: strerror(errno)))") }
    }

    private func syncDirectory(_ path: String) throws(StateError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StateError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        if fsync(fd) != 0 { throw StateError("cannot fsync '\(path)': \(String(cString: strerror(errno)))") }
    }

    private func removeTree(_ path: String) {
        guard let d = opendir(path) else { return }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { _ = unlink(path + "/" + name) }
        }
        closedir(d)
        _ = rmdir(path)
    }

    // MARK: Reading

    /// The newest checkpoint that reads back whole; each damaged one newer than it is
    /// reported to `warn` (and left on disk for inspection).
    package func latest(warn: (String) -> Void) -> Checkpoint? {
        let all = ids()
        for (i, id) in all.enumerated() {
            do throws(StateError) {
                return try read(id)
            } catch {
                let next = i + 1 < all.count ? "using checkpoint \(all[i + 1]) instead" : "no earlier checkpoint to use"
                warn("checkpoint \(id) in '\(directory)' is damaged (\(error.message)); \(next)")
            }
        }
        return nil
    }

    /// Reads checkpoint `id`, checking the manifest and every file against their checksums.
    package func read(_ id: Int) throws(StateError) -> Checkpoint {
        let dir = directory + "/" + Self.dirName(id)
        let text = try readFile(dir + "/MANIFEST")
        // The last line is the CRC-32 of everything before it.
        guard let cut = text.dropLast().lastIndex(of: 0x0A) else { throw StateError("MANIFEST is truncated") }
        let body = Array(text[..<(cut + 1)])
        let last = String(decoding: text[(cut + 1)...], as: UTF8.self)
        guard last == "crc32 \(CRC32.checksum(body))\n" else { throw StateError("MANIFEST checksum mismatch") }
        let manifest: JSON
        do { manifest = try JSONParser.parse(body) } catch { throw StateError("MANIFEST is not JSON") }
        guard case .int(let format)? = manifest["format"] else { throw StateError("MANIFEST has no format") }
        guard format == Self.formatVersion else {
            throw StateError("format \(format), this Sluice reads format \(Self.formatVersion)")
        }
        guard case .int(let mid)? = manifest["id"], mid == id, case .string(let fingerprint)? = manifest["fingerprint"],
            case .array(let files)? = manifest["files"]
        else { throw StateError("MANIFEST lacks id, fingerprint or files") }
        var c = Checkpoint(id: id, fingerprint: fingerprint)
        var sawEnds = false
        for f in files {
            guard case .string(let name)? = f["name"], case .int(let size)? = f["bytes"],
                case .int(let crc)? = f["crc32"], !name.contains("/")
            else { throw StateError("MANIFEST has a bad file entry") }
            let bytes = try readFile(dir + "/" + name)
            guard bytes.count == size else {
                throw StateError("'\(name)' has \(bytes.count) bytes, the manifest says \(size)")
            }
            guard Int64(CRC32.checksum(bytes)) == crc else { throw StateError("'\(name)' checksum mismatch") }
            if name == "ends" {
                try c.decodeEnds(bytes)
                sawEnds = true
            } else {
                let stage = try StageSnapshot.decode(bytes)
                let key = stage.copies > 1 ? "\(stage.stream)#\(stage.copy)" : stage.stream
                c.stages[key] = stage
            }
        }
        guard sawEnds else { throw StateError("MANIFEST lists no 'ends' file") }
        return c
    }

    private func readFile(_ path: String) throws(StateError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StateError("cannot open '\(path)': \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateError("cannot read '\(path)': \(String(cString: strerror(errno)))")
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }
}
