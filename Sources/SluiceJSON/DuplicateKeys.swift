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
/// Cheap for ordinary objects: a plain key (no escape, all ASCII) sets one bit, chosen
/// by its first eight bytes, of a 64-bit filter kept for its object; only a key whose
/// bit is set already is compared with the earlier keys. From ``hashFrom`` keys on, an
/// object's keys go into a hash set, so a hostile object of a million keys stays
/// linear. Keys written with escapes or non-ASCII characters compare decoded, as Swift
/// strings compare (the way ``JSONObject`` keys do), so `"a"` and `"\u0061"` are the
/// same key.
///
/// One checker serves one reader; reused for every value it reads, so validating
/// allocates nothing once the stack has grown to the deepest object.
final class DuplicateKeyChecker {
    /// A key on the stack: where its bytes start, and their count (the bitwise
    /// complement of it for a key that is not plain).
    struct Key {
        var start: Int
        var signedCount: Int

        @inline(__always) var plain: Bool { signedCount >= 0 }
        @inline(__always) var count: Int { signedCount >= 0 ? signedCount : ~signedCount }

        @inline(__always)
        init(start: Int, count: Int, plain: Bool) {
            self.start = start
            signedCount = plain ? count : ~count
        }
    }

    /// The state of one object being checked, kept by the validator on its stack.
    struct Frame {
        /// Where the object's keys start on the key stack.
        let start: Int
        /// One bit per plain key's first bytes (a filter: a key whose bit is clear is new).
        var bits: UInt64 = 0
        /// Some key of the object needs decoding to compare.
        var slow = false
        /// The object's hash set in ``tables``, once it has ``hashFrom`` keys.
        var table = -1

        @inline(__always)
        init(start: Int) { self.start = start }
    }

    /// Objects with this many keys or more are searched through a hash set.
    static let hashFrom = 16

    var keys: UnsafeMutablePointer<Key>
    var capacity: Int
    var top = 0
    /// The hash sets of the large objects being read.
    var tables: [Set<HashedKey>] = []
    /// Throw at the first repeated key (else note it in ``found`` and go on).
    let rejects: Bool
    /// A repeated key was seen in the value validated last.
    var found = false
    /// The first repeated key of the value validated last, as an error at its place.
    var firstRepeated: JSONError?

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
        if !tables.isEmpty { tables.removeAll(keepingCapacity: true) }
    }

    /// Forgets the keys of the object `frame` (when leaving it).
    @inline(__always)
    func leave(_ frame: Frame) {
        top = frame.start
        if frame.table >= 0 { tables.removeLast(tables.count - frame.table) }
    }

    @inline(never)
    func grow() {
        let bigger = UnsafeMutablePointer<Key>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: keys, count: top)
        keys.deallocate()
        keys = bigger
        capacity *= 2
    }

    /// The first eight bytes of the key (zero-padded). Reads eight bytes at once when
    /// they are inside the text (a key is followed by at least its closing quote).
    @inline(__always)
    static func tag(_ base: UnsafePointer<UInt8>, _ start: Int, _ count: Int, end: Int) -> UInt64 {
        if start &+ 8 <= end {
            let word = UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self)
            return count >= 8 ? word : word & ((1 &<< (8 &* UInt64(truncatingIfNeeded: count))) &- 1)
        }
        var t: UInt64 = 0
        var i = 0
        while i < min(count, 8) {
            t |= UInt64(base[start + i]) << (8 * UInt64(i))
            i += 1
        }
        return t
    }

    /// Notes the key at `start` (after its quote; `count` bytes) of the object `frame`.
    /// Throws (when rejecting) if the object already has it.
    @inline(__always)
    func add(
        _ base: UnsafePointer<UInt8>, start: Int, count: Int, plain: Bool, frame: inout Frame, end: Int
    ) throws(JSONError) {
        let n = top
        if plain, !frame.slow, n &- frame.start < Self.hashFrom {
            // Most keys: plain, in a small object; a clear bit proves the key is new.
            let tag = Self.tag(base, start, count, end: end)
            let bit: UInt64 = 1 &<< ((tag &* 0x9E37_79B9_7F4A_7C15) &>> 58)
            if frame.bits & bit != 0 { try scanPlain(base, start: start, count: count, from: frame.start) }
            frame.bits |= bit
            if n == capacity { grow() }
            keys[n] = Key(start: start, count: count, plain: true)
            top = n &+ 1
        } else {
            try addOther(base, Key(start: start, count: count, plain: plain), frame: &frame, end: end)
        }
    }

    /// Compares a plain key with the earlier plain keys of its object.
    @inline(never)
    func scanPlain(_ base: UnsafePointer<UInt8>, start: Int, count: Int, from: Int) throws(JSONError) {
        for i in from..<top {
            let k = keys[i]
            if k.signedCount == count, memcmp(base + k.start, base + start, count) == 0 {
                try repeated(base, Key(start: start, count: count, plain: true))
            }
        }
    }

    /// A key that needs decoding, or of an object that has one, or of a large object.
    @inline(never)
    func addOther(_ base: UnsafePointer<UInt8>, _ key: Key, frame: inout Frame, end: Int) throws(JSONError) {
        if frame.table >= 0 || top - frame.start >= Self.hashFrom {
            if frame.table < 0 {
                var t = Set<HashedKey>(minimumCapacity: 4 * Self.hashFrom)
                for i in frame.start..<top { t.insert(HashedKey(base: base, key: keys[i], end: end)) }
                frame.table = tables.count
                tables.append(t)
            }
            if tables[frame.table].insert(HashedKey(base: base, key: key, end: end)).inserted == false {
                try repeated(base, key)
            }
        } else {
            frame.slow = true
            let mine = Self.decoded(base, key, end: end)
            for i in frame.start..<top {
                let k = keys[i]
                if key.plain && k.plain {
                    if k.count == key.count, memcmp(base + k.start, base + key.start, key.count) == 0 { try repeated(base, key) }
                } else if Self.decoded(base, k, end: end) == mine {
                    try repeated(base, key)
                }
            }
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
