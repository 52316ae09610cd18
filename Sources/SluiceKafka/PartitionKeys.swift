#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// For the process running one partition of a scale-out input: counts the events whose
/// message key was also seen on another partition, whose state is then split between
/// processes (docs/kafka.md, "Scale-out").
///
/// Each partition's process appends the hashes of the keys it sees to
/// `DIR/partitions/TOPIC-P/keys` (8 bytes each, FNV-1a) about once a second, and reads
/// what the other partitions appended. An event counts when its key is known from
/// another partition; the events of a key seen here before it turned up elsewhere count
/// when it does.
final class PartitionKeys {
    let directory: String
    let own: String
    /// Events per key hash seen on this partition; -1 once the key was found elsewhere
    /// (its events counted).
    var events: [UInt64: Int] = [:]
    /// Hashes seen here and not yet in the file.
    var pending: [UInt64] = []
    /// Key hashes of other partitions, with the first partition seen having them.
    var elsewhere: [UInt64: String] = [:]
    /// Bytes of each other partition's file read so far.
    var consumed: [String: Int] = [:]
    /// Events whose key was also seen on another partition.
    private(set) var shared = 0
    /// The first other partition a key of this one was seen on (for the warning).
    private(set) var firstOther: String?

    /// `directory`: `DIR/partitions`; `own`: this partition's `TOPIC-P`.
    init(directory: String, own: String) {
        self.directory = directory
        self.own = own
        // The keys an earlier owner of the partition saw are this partition's too.
        var offset = 0
        for h in Self.hashes(in: directory + "/" + own + "/keys", from: &offset) { events[h] = 0 }
    }

    /// FNV-1a, 64 bits.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// One event with message key `key`.
    func see(_ key: UnsafeRawBufferPointer) {
        let h = Self.hash(key)
        if let other = elsewhere[h] {
            shared += 1
            if firstOther == nil { firstOther = other }
            if events[h] == nil { pending.append(h) }
            events[h] = -1
            return
        }
        if let n = events[h] {
            if n >= 0 { events[h] = n + 1 }
        } else {
            events[h] = 1
            pending.append(h)
        }
    }

    /// Appends the new keys to this partition's file and reads the others' new keys.
    func sync() {
        if !pending.isEmpty {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(pending.count * 8)
            for h in pending { withUnsafeBytes(of: h.littleEndian) { bytes.append(contentsOf: $0) } }
            let fd = open(directory + "/" + own + "/keys", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                _ = close(fd)
                if n == bytes.count { pending.removeAll(keepingCapacity: true) }
            }
        }
        guard let d = opendir(directory) else { return }
        var others: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix("."), name != own { others.append(name) }
        }
        closedir(d)
        for other in others.sorted() {
            var offset = consumed[other] ?? 0
            for h in Self.hashes(in: directory + "/" + other + "/keys", from: &offset) where elsewhere[h] == nil {
                elsewhere[h] = other
                // Events of this key seen here before count now.
                if let n = events[h], n >= 0 {
                    shared += n
                    if n > 0, firstOther == nil { firstOther = other }
                    events[h] = -1
                }
            }
            consumed[other] = offset
        }
    }

    /// The whole 8-byte hashes in the file at `path` from byte `offset` on; moves `offset`
    /// past them (a torn last one is read next time).
    static func hashes(in path: String, from offset: inout Int) -> [UInt64] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { _ = close(fd) }
        guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { return [] }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        let whole = bytes.count / 8
        var out: [UInt64] = []
        out.reserveCapacity(whole)
        for i in 0..<whole {
            var h: UInt64 = 0
            for j in 0..<8 { h |= UInt64(bytes[i * 8 + j]) << (8 * UInt64(j)) }
            out.append(h)
        }
        offset += whole * 8
        return out
    }
}
