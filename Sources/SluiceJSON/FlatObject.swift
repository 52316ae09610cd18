/// The reader's fast path for a JSON line that is one flat object (the shape of nearly
/// every event): keys written without escapes or non-ASCII bytes, values that are
/// strings, numbers and literals, read in one loop without the general validator's
/// recursion, per-member calls and error values.
///
/// The fast path only ever accepts: anything it does not handle itself (an escaped or
/// non-ASCII key, a number with an exponent, a byte out of place, a repeated key, a key
/// too close to the end of the text) makes it give up, and the general path
/// (``JSONParser/validate(_:maxDepth:checker:)`` or its indexing form) reads the line
/// from the start, so every malformed line gets the same error at the same place as
/// before. It accepts only what the general path accepts, and records the same field
/// offsets (`FlatObjectTests` checks both on random and mutated lines). Nested
/// containers and strings with escapes or UTF-8 are handed to the general path's own
/// functions in place, so they do not cost a second reading.
extension JSONParser {
    /// Validates `bytes` as a flat object, looking for repeated keys with `checker` and,
    /// with an `index`, recording where its fields' values start. True when the bytes are
    /// one valid object without repeated keys; false when they are not, or when the
    /// fast path cannot tell (then `offsets` and `checker` are unspecified: the caller
    /// validates again with the general path, which resets both).
    @inline(__always)
    static func validateFlat(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, index: FieldIndex?, offsets: inout FieldOffsets,
        checker: DuplicateKeyChecker
    ) -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), maxDepth > 0,
            bytes.count <= Int(UInt32.max) - 2, bytes.count > 0, base[0] == UInt8(ascii: "{")
        else { return false }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        c.duplicates = checker
        offsets = FieldOffsets()
        return c.skipFlatObject(index, &offsets, checker)
    }

    /// ``validateFlat(_:maxDepth:index:offsets:checker:)`` with a checker of its own, for
    /// tests that compare it with the general path.
    package static func validateFlat(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512, index: FieldIndex?, offsets: inout FieldOffsets
    ) -> Bool {
        validateFlat(
            bytes, maxDepth: maxDepth, index: index, offsets: &offsets, checker: DuplicateKeyChecker(rejects: false))
    }
}

extension Cursor {
    /// The first offset from `p` on that is not JSON whitespace (or `end`). Static, on
    /// the fast path's locals: reading `base` and `end` through `self` reloaded them
    /// from memory at every use.
    @inline(__always)
    static func spaces(_ base: UnsafePointer<UInt8>, from p: Int, _ end: Int) -> Int {
        var p = p
        while p < end {
            let b = base[p]
            if b > 0x20 || (b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09) { return p }
            p &+= 1
        }
        return p
    }

    /// The first offset from `start` on (or `end`) of a byte that is not a plain string
    /// byte (see ``specialBytes(_:)``): eight bytes a load, the last few one by one.
    @inline(__always)
    static func plainEnd(_ base: UnsafePointer<UInt8>, from start: Int, _ end: Int) -> Int {
        var q = start
        let raw = UnsafeRawPointer(base)
        while q &+ 8 <= end {
            let hit = specialBytes(raw.loadUnaligned(fromByteOffset: q, as: UInt64.self))
            if hit != 0 { return q &+ (hit.trailingZeroBitCount &>> 3) }
            q &+= 8
        }
        while q < end {
            let b = base[q]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return q }
            q &+= 1
        }
        return q
    }

    /// At the `{` of a line's top-level object, at depth 0: the fast path of
    /// ``JSONParser/validateFlat(_:maxDepth:index:offsets:checker:)``. On true, `pos` is
    /// ``end``.
    mutating func skipFlatObject(_ index: FieldIndex?, _ offsets: inout FieldOffsets, _ checker: DuplicateKeyChecker)
        -> Bool
    {
        let base = self.base
        let end = self.end
        let raw = UnsafeRawPointer(base)
        var frame = DuplicateKeyChecker.Frame(open: pos)
        checker.reset()
        defer { checker.leave(frame) }
        var missing = index?.slotCount ?? 0
        var p = Self.spaces(base, from: pos &+ 1, end)
        if p < end && base[p] == UInt8(ascii: "}") {
            p &+= 1
        } else {
            while true {
                // The key: plain bytes up to its closing quote.
                guard p < end, base[p] == UInt8(ascii: "\"") else { return false }
                let keyStart = p &+ 1
                let q: Int
                let tag: UInt64
                if keyStart &+ 8 <= end {
                    // One load: a short key's bytes are its tag, as the checker makes it.
                    let w = raw.loadUnaligned(fromByteOffset: keyStart, as: UInt64.self)
                    let special = Self.specialBytes(w)
                    if special != 0 {
                        let n = special.trailingZeroBitCount &>> 3
                        q = keyStart &+ n
                        tag = w & ((1 &<< (UInt64(truncatingIfNeeded: n) &<< 3)) &- 1)
                    } else {
                        q = Self.plainEnd(base, from: keyStart &+ 8, end)
                        tag = w
                    }
                } else {
                    q = Self.plainEnd(base, from: keyStart, end)
                    tag = DuplicateKeyChecker.tag(base, keyStart, q &- keyStart, end: end)
                }
                guard q < end, base[q] == UInt8(ascii: "\"") else { return false }
                let keyCount = q &- keyStart
                do throws(JSONError) {
                    try checker.addPlain(base, tag: tag, start: keyStart, count: keyCount, frame: &frame, end: end)
                } catch {
                    return false
                }
                var hit = -1
                if missing > 0, let index {
                    hit = index.slot(matchingPlain: base + keyStart, count: keyCount, tag: tag, unrecordedIn: offsets)
                }
                // The colon, directly after the key in compact text.
                p = q &+ 1
                if p < end, base[p] == UInt8(ascii: ":") {
                    p &+= 1
                } else {
                    p = Self.spaces(base, from: p, end)
                    guard p < end, base[p] == UInt8(ascii: ":") else { return false }
                    p &+= 1
                }
                p = Self.spaces(base, from: p, end)
                guard p < end else { return false }
                if hit >= 0 {
                    offsets.record(hit, offset: p)
                    missing &-= 1
                }
                // The value.
                switch base[p] {
                case UInt8(ascii: "\""):
                    let close = Self.plainEnd(base, from: p &+ 1, end)
                    if close < end && base[close] == UInt8(ascii: "\"") {
                        p = close &+ 1
                    } else {
                        // Escapes, UTF-8 or an error: the general walk, from the quote.
                        pos = p
                        do throws(JSONError) { try skipString() } catch { return false }
                        p = pos
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    var d = p
                    if base[d] == UInt8(ascii: "-") { d &+= 1 }
                    guard d < end, base[d] &- 0x30 < 10 else { return false }
                    if base[d] == UInt8(ascii: "0") {
                        d &+= 1
                        if d < end, base[d] &- 0x30 < 10 { return false }
                    } else {
                        d = Self.digitsEnd(base, from: d &+ 1, end)
                    }
                    if d < end, base[d] == UInt8(ascii: ".") {
                        d &+= 1
                        guard d < end, base[d] &- 0x30 < 10 else { return false }
                        d = Self.digitsEnd(base, from: d &+ 1, end)
                    }
                    if d < end, base[d] | 0x20 == UInt8(ascii: "e") {
                        // An exponent: the general path checks the range.
                        pos = p
                        do throws(JSONError) { try skipNumber() } catch { return false }
                        d = pos
                    }
                    p = d
                case UInt8(ascii: "t"):
                    // "true", little-endian
                    guard p &+ 4 <= end, raw.loadUnaligned(fromByteOffset: p, as: UInt32.self) == 0x6575_7274 else {
                        return false
                    }
                    p &+= 4
                case UInt8(ascii: "f"):
                    // "fals" and "e"
                    guard p &+ 5 <= end, raw.loadUnaligned(fromByteOffset: p, as: UInt32.self) == 0x736C_6166,
                        base[p &+ 4] == UInt8(ascii: "e")
                    else { return false }
                    p &+= 5
                case UInt8(ascii: "n"):
                    // "null"
                    guard p &+ 4 <= end, raw.loadUnaligned(fromByteOffset: p, as: UInt32.self) == 0x6C6C_756E else {
                        return false
                    }
                    p &+= 4
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    pos = p
                    do throws(JSONError) { try skipValue(depth: 1) } catch { return false }
                    p = pos
                default:
                    return false
                }
                // The member's end.
                p = Self.spaces(base, from: p, end)
                guard p < end else { return false }
                let b = base[p]
                p &+= 1
                if b == UInt8(ascii: ",") {
                    p = Self.spaces(base, from: p, end)
                    continue
                }
                if b == UInt8(ascii: "}") { break }
                return false
            }
        }
        guard Self.spaces(base, from: p, end) == end, !checker.found else { return false }
        if let index {
            for i in 0..<index.slotCount where offsets.packed[i] == 0 { offsets.packed[i] = 1 }
        }
        pos = end
        return true
    }
}
