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
@usableFromInline package enum DuplicateKeyPolicy: String, Sendable, CaseIterable {
    /// The value is malformed, with the key in the reason.
    case reject
    /// Sluice keeps each repeated key's first value; the event is written with only that.
    case first
    /// Sluice keeps each repeated key's last value (at the key's first place, as
    /// JavaScript and Python read it); the event is written with only that.
    case last
}

/// Finds repeated keys while a ``Cursor`` validates.
///
/// Cheap for ordinary objects: each object being read keeps, on the validator's stack,
/// a 128-bit filter in which a plain key (no escape, all ASCII) sets one bit chosen by
/// its first eight bytes. A key whose bit is clear is new, which is nearly always the
/// case; only a key whose bit is set already is compared with the earlier keys of its
/// object, found again by stepping over the object's (already validated) text. From
/// ``hashFrom`` keys on, an object's keys go into a hash set, so a hostile object of a
/// million keys stays linear. Keys written with escapes or non-ASCII characters
/// compare decoded, as Swift strings compare (the way ``JSONObject`` keys do), so `"a"`
/// and `"\u0061"` are the same key.
///
/// One checker serves one reader, on the reader's thread, and no access to its state
/// overlaps another (each is a plain read or write between calls), so its stored state
/// skips the runtime's exclusivity checks, which cost a tenth of the check.
final class DuplicateKeyChecker {
    /// A key: where its bytes start (after the quote), how many, and whether it is plain
    /// (its bytes are the key).
    struct Key {
        var start: Int
        var count: Int
        var plain: Bool
    }

    /// The state of one object being checked, kept by the validator on its stack.
    struct Frame {
        /// Where the object's `{` is, or any place after it before its first key.
        let open: Int
        /// The filter: one bit per plain key's first bytes.
        var low: UInt64 = 0
        var high: UInt64 = 0
        var keyCount = 0
        /// Some key of the object needs decoding to compare.
        var slow = false
        /// The object's hash set in ``tables``, once it has ``hashFrom`` keys.
        var table = -1

        @inline(__always)
        init(open: Int) { self.open = open }
    }

    /// Objects with more keys than this are searched through a hash set.
    static let hashFrom = 16

    /// The hash sets of the large objects being read.
    @exclusivity(unchecked) var tables: [Set<HashedKey>] = []
    /// Throw at the first repeated key (else note it in ``found`` and go on).
    let rejects: Bool
    /// A repeated key was seen in the value validated last.
    @exclusivity(unchecked) var found = false
    /// The first repeated key of the value validated last, as an error at its place.
    @exclusivity(unchecked) var firstRepeated: JSONError?

    init(rejects: Bool) {
        self.rejects = rejects
    }

    /// Prepares for the next value.
    @inline(__always)
    func reset() {
        // Only a value with a repeated key sets these (most have none).
        if found {
            found = false
            firstRepeated = nil
        }
        if !tables.isEmpty { tables.removeAll(keepingCapacity: true) }
    }

    /// Forgets the object `frame` (when leaving it).
    @inline(__always)
    func leave(_ frame: Frame) {
        if frame.table >= 0 { tables.removeLast(tables.count - frame.table) }
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

    /// Notes the key at `start` (after its quote; `count` bytes) of the object `frame`,
    /// whose earlier keys are all validated. Throws (when rejecting) if the object has it
    /// already.
    @inline(__always)
    func add(
        _ base: UnsafePointer<UInt8>, start: Int, count: Int, plain: Bool, frame: inout Frame, end: Int
    ) throws(JSONError) {
        if plain {
            try addPlain(
                base, tag: Self.tag(base, start, count, end: end), start: start, count: count, frame: &frame, end: end)
        } else {
            frame.keyCount &+= 1
            try addOther(base, Key(start: start, count: count, plain: false), frame: &frame, end: end)
        }
    }

    /// ``add(_:start:count:plain:frame:end:)`` of a plain key whose ``tag(_:_:_:end:)``
    /// is known (the validator has its bytes in a register already).
    @inline(__always)
    func addPlain(
        _ base: UnsafePointer<UInt8>, tag: UInt64, start: Int, count: Int, frame: inout Frame, end: Int
    ) throws(JSONError) {
        frame.keyCount &+= 1
        guard !frame.slow, frame.keyCount <= Self.hashFrom else {
            try addOther(base, Key(start: start, count: count, plain: true), frame: &frame, end: end)
            return
        }
        let h = (tag &* 0x9E37_79B9_7F4A_7C15) &>> 57
        let bit: UInt64 = 1 &<< (h & 63)
        if h < 64 {
            if frame.low & bit != 0 {
                try compareWithEarlier(base, Key(start: start, count: count, plain: true), frame, end: end)
            }
            frame.low |= bit
        } else {
            if frame.high & bit != 0 {
                try compareWithEarlier(base, Key(start: start, count: count, plain: true), frame, end: end)
            }
            frame.high |= bit
        }
    }

    /// Calls `body` with each earlier key of the object `frame`, up to `key`.
    func earlierKeys(
        _ base: UnsafePointer<UInt8>, _ frame: Frame, before key: Key, end: Int, _ body: (Key) throws(JSONError) -> Void
    ) throws(JSONError) {
        var c = Cursor(base: base, end: end, maxDepth: Int.max)
        c.pos = frame.open + 1
        while c.pos < end {
            c.skipWhitespace()
            guard c.pos < end, base[c.pos] == UInt8(ascii: "\"") else { return }
            let start = c.pos + 1
            if start >= key.start { return }
            let plain = try c.skipKey()
            try body(Key(start: start, count: c.pos - 1 - start, plain: plain))
            try c.skipColon()
            try c.skipValidated()
            c.skipWhitespace()
            guard c.pos < end, base[c.pos] == UInt8(ascii: ",") else { return }
            c.pos += 1
        }
    }

    /// Compares `key` with every earlier key of its object.
    @inline(never)
    func compareWithEarlier(_ base: UnsafePointer<UInt8>, _ key: Key, _ frame: Frame, end: Int) throws(JSONError) {
        if key.plain {
            try earlierKeys(base, frame, before: key, end: end) { k throws(JSONError) in
                if k.plain {
                    if k.count == key.count, memcmp(base + k.start, base + key.start, key.count) == 0 {
                        try repeated(base, key)
                    }
                } else if Self.decoded(base, k, end: end) == Self.decoded(base, key, end: end) {
                    try repeated(base, key)
                }
            }
        } else {
            let mine = Self.decoded(base, key, end: end)
            try earlierKeys(base, frame, before: key, end: end) { k throws(JSONError) in
                if Self.decoded(base, k, end: end) == mine { try repeated(base, key) }
            }
        }
    }

    /// A key that needs decoding, or of an object that has one, or of a large object.
    @inline(never)
    func addOther(_ base: UnsafePointer<UInt8>, _ key: Key, frame: inout Frame, end: Int) throws(JSONError) {
        if frame.table < 0 && frame.keyCount <= Self.hashFrom {
            frame.slow = true
            try compareWithEarlier(base, key, frame, end: end)
            return
        }
        if frame.table < 0 {
            var t = Set<HashedKey>(minimumCapacity: 4 * Self.hashFrom)
            try earlierKeys(base, frame, before: key, end: end) { k throws(JSONError) in
                t.insert(HashedKey(base: base, key: k, end: end))
            }
            frame.table = tables.count
            tables.append(t)
        }
        if tables[frame.table].insert(HashedKey(base: base, key: key, end: end)).inserted == false {
            try repeated(base, key)
        }
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
        if key.plain {
            return String(decoding: UnsafeBufferPointer(start: base + key.start, count: key.count), as: UTF8.self)
        }
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
            if key.plain, let h = JSONKeyHash.asciiHash(UnsafeBufferPointer(start: base + key.start, count: key.count))
            {
                hash = h
            } else {
                hash = JSONKeyHash.hash(.string(DuplicateKeyChecker.decoded(base, key, end: end)))
            }
        }

        static func == (a: HashedKey, b: HashedKey) -> Bool {
            guard a.hash == b.hash else { return false }
            if a.key.plain && b.key.plain {
                return a.key.count == b.key.count
                    && memcmp(a.base + a.key.start, b.base + b.key.start, a.key.count) == 0
            }
            return DuplicateKeyChecker.decoded(a.base, a.key, end: a.end)
                == DuplicateKeyChecker.decoded(b.base, b.key, end: b.end)
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }
}
