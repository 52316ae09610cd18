#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a reader does with an object that repeats a key (`{"a":1,"a":2}`).
///
/// Readers disagree on such objects (most keep the last value, Sluice's field reads the
/// first), so passing one on unchanged lets a filter and a downstream reader see
/// different events. I-JSON (RFC 7493) forbids repeated keys; that is the default.
public enum DuplicateKeyPolicy: String, Sendable, CaseIterable {
    /// The value is malformed, with the key in the reason.
    case reject
    /// Sluice keeps each repeated key's first value; the event is written with only that.
    case first
    /// Sluice keeps each repeated key's last value (at the key's first place, as
    /// JavaScript and Python read it); the event is written with only that.
    case last
}

/// Finds repeated keys while a ``Cursor`` validates: the keys of every object being
/// read sit on a stack (the object's own keys above those of the objects around it),
/// and each new key is compared with the ones of its object.
///
/// Cheap for ordinary objects: a key is noted by its place, length and first eight
/// bytes, read while validation has them in cache anyway, and an object of a few keys
/// is searched linearly by that tag. From ``hashFrom`` keys on, an object's keys go
/// into a hash set, so a hostile object of a million keys stays linear. Keys written
/// with escapes or non-ASCII characters compare decoded, as Swift strings compare (the
/// way ``JSONObject`` keys do), so `"a"` and `"\u0061"` are the same key.
///
/// One checker serves one reader; reused for every value it reads, so validating
/// allocates nothing once the stack has grown to the deepest object.
final class DuplicateKeyChecker {
    struct Key {
        var start: Int
        var count: Int
        /// The first eight bytes (zero-padded); meaningful for plain keys only.
        var tag: UInt64
        /// No escape and only ASCII: the bytes are the key.
        var plain: Bool
    }

    /// Objects with this many keys or more are searched through a hash set.
    static let hashFrom = 16

    var keys: UnsafeMutablePointer<Key>
    var capacity: Int
    var top = 0
    /// Throw at the first repeated key (else note it in ``found`` and go on).
    let rejects: Bool
    /// A repeated key was seen in the value validated last.
    var found = false

    init(rejects: Bool) {
        self.rejects = rejects
        capacity = 64
        keys = .allocate(capacity: capacity)
    }

    deinit { keys.deallocate() }

    /// Prepares for the next value.
    @inline(__always)
    func reset() {
        top = 0
        found = false
        firstRepeated = nil
    }

    func grow() {
        let bigger = UnsafeMutablePointer<Key>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: keys, count: top)
        keys.deallocate()
        keys = bigger
        capacity *= 2
    }

    @inline(__always)
    static func tag(_ base: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> UInt64 {
        var t: UInt64 = 0
        if count >= 8 {
            t = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self)
        } else {
            var i = 0
            while i < count {
                t |= UInt64(base[start + i]) << (8 * UInt64(i))
                i += 1
            }
        }
        return t
    }

    /// Notes the key at `start` (after its quote; `count` bytes) of the object whose keys
    /// begin at `frame`. Throws (when rejecting) if the object already has it.
    @inline(__always)
    func add(
        _ base: UnsafePointer<UInt8>, start: Int, count: Int, plain: Bool, frame: Int, end: Int,
        table: inout Set<HashedKey>?
    ) throws(JSONError) {
        let key = Key(start: start, count: count, tag: plain ? Self.tag(base, start, count) : 0, plain: plain)
        if top - frame < Self.hashFrom && table == nil {
            var i = frame
            if plain {
                while i < top {
                    let k = keys[i]
                    if k.plain {
                        if k.tag == key.tag, k.count == count, count <= 8 || memcmp(base + k.start, base + start, count) == 0 {
                            try repeated(base, key)
                        }
                    } else if Self.decoded(base, k, end: end) == Self.decoded(base, key, end: end) {
                        try repeated(base, key)
                    }
                    i += 1
                }
            } else {
                let mine = Self.decoded(base, key, end: end)
                while i < top {
                    if Self.decoded(base, keys[i], end: end) == mine { try repeated(base, key) }
                    i += 1
                }
            }
        } else {
            if table == nil {
                var t = Set<HashedKey>(minimumCapacity: 2 * Self.hashFrom)
                for i in frame..<top { t.insert(HashedKey(base: base, key: keys[i], end: end)) }
                table = t
            }
            if table?.insert(HashedKey(base: base, key: key, end: end)).inserted == false { try repeated(base, key) }
        }
        if top == capacity { grow() }
        keys[top] = key
        top += 1
    }

    func repeated(_ base: UnsafePointer<UInt8>, _ key: Key) throws(JSONError) {
        if !found {
            found = true
            firstRepeated = Self.error(base, key)
        }
        if rejects { throw firstRepeated ?? Self.error(base, key) }
    }

    /// The first repeated key of the value validated last, as an error at its place.
    var firstRepeated: JSONError?

    static func error(_ base: UnsafePointer<UInt8>, _ key: Key) -> JSONError {
        var shown = decoded(base, key, end: key.start + key.count + 1)
        if shown.utf8.count > 64 { shown = String(shown.prefix(60)) + "..." }
        var quoted: [UInt8] = []
        JSONWriter.writeString(shown, into: &quoted)
        return JSONError("repeated key \(String(decoding: quoted, as: UTF8.self)) in an object", offset: key.start - 1)
    }

    /// The key as a string, escapes decoded.
    static func decoded(_ base: UnsafePointer<UInt8>, _ key: Key, end: Int) -> String {
        if key.plain { return String(decoding: UnsafeBufferPointer(start: base + key.start, count: key.count), as: UTF8.self) }
        var c = Cursor(base: base, end: end, maxDepth: 1)
        c.pos = key.start - 1
        return (try? c.parseString()) ?? ""
    }

    /// A key in the hash set of a large object: hashed and compared as the decoded
    /// string (consistent with `String`'s `==`, as ``JSONKeyHash`` is).
    struct HashedKey: Hashable {
        let base: UnsafePointer<UInt8>
        let key: Key
        let end: Int
        let hash: UInt64

        init(base: UnsafePointer<UInt8>, key: Key, end: Int) {
            self.base = base
            self.key = key
            self.end = end
            if key.plain, let h = JSONKeyHash.asciiHash(UnsafeBufferPointer(start: base + key.start, count: key.count)) {
                hash = h
            } else {
                hash = JSONKeyHash.hash(.string(DuplicateKeyChecker.decoded(base, key, end: end)))
            }
        }

        static func == (a: HashedKey, b: HashedKey) -> Bool {
            guard a.hash == b.hash else { return false }
            if a.key.plain && b.key.plain {
                return a.key.count == b.key.count && memcmp(a.base + a.key.start, b.base + b.key.start, a.key.count) == 0
            }
            return DuplicateKeyChecker.decoded(a.base, a.key, end: a.end) == DuplicateKeyChecker.decoded(b.base, b.key, end: b.end)
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }
}
