#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The top-level fields a pipeline reads, which a reader notes the place of while it
/// validates each event, so that reading one of them later jumps to its value instead
/// of scanning the event's bytes again.
///
/// Validation has to look at every byte of an event anyway; comparing each top-level key
/// with a few names on the way costs little, and saves the step that reads `amount` a
/// second pass over the keys and values before it. At most ``capacity`` fields are
/// indexed; others are found by a scan as before.
///
/// A class, so that events can tell by identity whether their offsets were recorded for
/// the index a reader of fields has in mind.
@usableFromInline package final class FieldIndex: @unchecked Sendable {
    /// How many fields an index holds (the slots of ``FieldOffsets``).
    @usableFromInline package static let capacity = 8

    /// The field names, in slot order.
    @usableFromInline package let keys: [String]
    /// The names' UTF-8 bytes back to back, and each name's (start, count) in them: raw
    /// memory, so that the validator compares keys without reference counting. Written
    /// once here, freed in deinit; immutable in between, hence `@unchecked Sendable`.
    let bytes: UnsafeMutablePointer<UInt8>
    let spans: UnsafeMutablePointer<Int>
    /// `keys.count`, stored so hot paths need not touch the array.
    let slotCount: Int
    /// Each name's bytes as a ``DuplicateKeyChecker`` tag (the first eight, zero-padded),
    /// so that a plain key under eight bytes is compared with a name in one instruction.
    let tags: UnsafeMutablePointer<UInt64>

    /// An index of the first ``capacity`` distinct names of `keys`.
    @usableFromInline package init(_ keys: [String]) {
        var seen: [String] = []
        for k in keys where !seen.contains(k) && seen.count < Self.capacity { seen.append(k) }
        self.keys = seen
        slotCount = seen.count
        let total = seen.reduce(0) { $0 + $1.utf8.count }
        bytes = .allocate(capacity: max(1, total))
        spans = .allocate(capacity: 2 * max(1, seen.count))
        tags = .allocate(capacity: max(1, seen.count))
        var at = 0
        for (i, k) in seen.enumerated() {
            spans[2 * i] = at
            spans[2 * i + 1] = k.utf8.count
            var tag: UInt64 = 0
            for (j, b) in k.utf8.enumerated() {
                bytes[at] = b
                at += 1
                if j < 8 { tag |= UInt64(b) << (8 * UInt64(j)) }
            }
            tags[i] = tag
        }
    }

    deinit {
        bytes.deallocate()
        spans.deallocate()
        tags.deallocate()
    }

    /// The slot of `key`, or nil when it is not indexed. Compares bytes in the index's
    /// own memory, touching no reference-counted storage.
    @usableFromInline package func slot(of key: String) -> Int? {
        // With nothing recorded, every slot is a candidate.
        let found = key.utf8.withContiguousStorageIfAvailable { k in
            slot(matching: k.baseAddress, count: k.count, unrecordedIn: FieldOffsets())
        }
        if let found { return found >= 0 ? found : nil }
        return keys.firstIndex(of: key)
    }

    /// ``slot(matching:count:unrecordedIn:)`` of a key whose ``DuplicateKeyChecker``
    /// tag is `tag`: a key under eight bytes is told by its tag and length alone.
    @inline(__always)
    func slot(matchingPlain key: UnsafePointer<UInt8>, count: Int, tag: UInt64, unrecordedIn offsets: FieldOffsets)
        -> Int
    {
        guard count < 8 else { return slot(matching: key, count: count, unrecordedIn: offsets) }
        var i = 0
        let n = slotCount
        while i < n {
            if tags[i] == tag, spans[2 &* i &+ 1] == count, offsets.packed[i] == 0 { return i }
            i &+= 1
        }
        return -1
    }

    /// The slot whose name is the `count` bytes at `key` (not yet recorded in
    /// `offsets`), or -1.
    @inline(__always)
    func slot(matching key: UnsafePointer<UInt8>?, count: Int, unrecordedIn offsets: FieldOffsets) -> Int {
        var i = 0
        let n = slotCount
        while i < n {
            if spans[2 * i + 1] == count, offsets.packed[i] == 0,
                count == 0 || key.map({ memcmp(bytes + spans[2 * i], $0, count) == 0 }) == true
            {
                return i
            }
            i += 1
        }
        return -1
    }
}

/// Where the values of an event's indexed fields start, relative to its first byte: one
/// slot per field of a ``FieldIndex``. A slot is unknown (not recorded), absent (the
/// object has no such field), or the offset of the value's first byte.
@usableFromInline package struct FieldOffsets: Sendable, Equatable {
    /// 0: unknown; 1: absent; n ≥ 2: the value starts at offset n - 2.
    @usableFromInline
    var packed: SIMD8<UInt32>

    /// Nothing recorded.
    @inlinable
    package init() { packed = .zero }

    /// What slot `slot` records.
    @usableFromInline package enum Entry: Sendable, Equatable {
        case unknown
        case absent
        case offset(Int)
    }

    /// The entry of `slot` (unknown for slots past ``FieldIndex/capacity``).
    @inlinable @inline(__always)
    package subscript(slot: Int) -> Entry {
        guard slot >= 0, slot < FieldIndex.capacity else { return .unknown }
        let v = packed[slot]
        if v == 0 { return .unknown }
        if v == 1 { return .absent }
        return .offset(Int(v - 2))
    }

    /// True when no slot is recorded. As four words: `packed == .zero` compiles to a
    /// loop over the eight lanes (about 70 instructions, on every raw field read).
    @inlinable
    package var isEmpty: Bool {
        withUnsafeBytes(of: packed) { b in
            (b.load(as: UInt64.self) | b.load(fromByteOffset: 8, as: UInt64.self)
                | b.load(fromByteOffset: 16, as: UInt64.self) | b.load(fromByteOffset: 24, as: UInt64.self)) == 0
        }
    }

    /// Records that the value of `slot`'s field starts at `offset` (below
    /// `UInt32.max - 2`).
    @inline(__always)
    package mutating func record(_ slot: Int, offset: Int) { packed[slot] = UInt32(truncatingIfNeeded: offset + 2) }

    /// Records that the object has no field of `slot`'s name.
    @inline(__always)
    package mutating func recordAbsent(_ slot: Int) { packed[slot] = 1 }
}

extension JSONParser {
    /// ``validate(_:maxDepth:)`` that also records, for an object, where the values of the
    /// fields of `index` start (the first occurrence of a repeated key, as ``parse``
    /// keeps). Fields the object lacks are recorded as absent. Nothing is recorded for a
    /// non-object, or when a top-level key is written with escapes (a later read then
    /// scans, which decodes them).
    @usableFromInline package static func validate(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512, index: FieldIndex, offsets: inout FieldOffsets
    ) -> JSONError? {
        validate(bytes, maxDepth: maxDepth, index: index, offsets: &offsets, checker: nil)
    }

    /// ``validate(_:maxDepth:index:offsets:)`` looking for repeated keys with `checker`
    /// (reset first) when given.
    static func validate(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, index: FieldIndex, offsets: inout FieldOffsets,
        checker: DuplicateKeyChecker?
    ) -> JSONError? {
        offsets = FieldOffsets()
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            return JSONError("empty input", offset: 0)
        }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        checker?.reset()
        c.duplicates = checker
        do throws(JSONError) {
            c.skipWhitespace()
            if c.pos < c.end, base[c.pos] == UInt8(ascii: "{"), maxDepth > 0, bytes.count <= Int(UInt32.max) - 2 {
                try c.skipIndexedObject(index, &offsets)
            } else {
                try c.skipValue(depth: 0)
            }
            c.skipWhitespace()
            if c.pos != c.end { throw c.unexpected("after the value") }
            return nil
        } catch {
            offsets = FieldOffsets()
            return error
        }
    }
}

extension Cursor {
    /// Validates the top-level object at `pos`, as `skipValue(depth: 0)` does, noting
    /// where the values of `index`'s keys start.
    mutating func skipIndexedObject(_ index: FieldIndex, _ offsets: inout FieldOffsets) throws(JSONError) {
        pos += 1
        let keyCountTotal = index.slotCount
        var missing = keyCountTotal
        var escaped = false
        var frame = DuplicateKeyChecker.Frame(open: pos - 1)
        // Read once: a class reference loaded from `self` in the loop would be retained
        // and released for every key.
        let checker = duplicates
        defer { checker?.leave(frame) }
        skipWhitespace()
        if pos < end && base[pos] == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                skipWhitespace()
                guard pos < end, base[pos] == UInt8(ascii: "\"") else {
                    throw unexpected("where an object key was expected")
                }
                let keyStart = pos + 1
                let keyCount: Int
                if let checker {
                    if let tag = skipShortPlainKey() {
                        keyCount = pos &- 1 &- keyStart
                        try checker.addPlain(base, tag: tag, start: keyStart, count: keyCount, frame: &frame, end: end)
                    } else {
                        let plain = try skipKey()
                        keyCount = pos &- 1 &- keyStart
                        try checker.add(base, start: keyStart, count: keyCount, plain: plain, frame: &frame, end: end)
                    }
                } else {
                    try skipString()
                    keyCount = pos - 1 - keyStart
                }
                var hit = -1
                if missing > 0 {
                    hit = index.slot(matching: base + keyStart, count: keyCount, unrecordedIn: offsets)
                    if hit < 0, memchr(base + keyStart, Int32(UInt8(ascii: "\\")), keyCount) != nil { escaped = true }
                }
                try skipColon()
                if hit >= 0 {
                    offsets.record(hit, offset: pos)
                    missing -= 1
                }
                try skipValue(depth: 1)
                if try !skipMemberEnd() { break }
            }
        }
        if escaped {
            // An escaped key might be one of ours in disguise: record nothing.
            offsets = FieldOffsets()
            return
        }
        for i in 0..<keyCountTotal where offsets.packed[i] == 0 { offsets.packed[i] = 1 }
    }
}

extension JSONParser {
    /// The value starting at `offset` of validated `bytes` (an offset from
    /// ``FieldOffsets``), or nil if the bytes there are not a value.
    @usableFromInline package static func value(at offset: Int, in bytes: UnsafeRawBufferPointer) -> JSON? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), offset >= 0, offset < bytes.count
        else {
            return nil
        }
        var c = Cursor(base: base, end: bytes.count, maxDepth: Int.max)
        c.pos = offset
        return try? c.parseValue(depth: 1)
    }
}
