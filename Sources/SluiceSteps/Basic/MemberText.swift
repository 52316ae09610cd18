import SluiceJSON

/// The members that `enrich` appends and `map` writes as text, `"key":value` after
/// `"key":value`: each key's text up to its value (`"k":`, after a comma from the second
/// on; the first after `{` when the members open an object), back to back, with where
/// each ends, and each key's slot in the reader's field index (-1 when not indexed), so
/// that the values' places are recorded and later steps read the new fields by offset.
struct MemberText {
    let keyBytes: [UInt8]
    let keyEnds: [Int]
    let slots: [Int]

    init(keys: [String], opensObject: Bool, index: FieldIndex) {
        var text: [UInt8] = opensObject ? [UInt8(ascii: "{")] : []
        var ends: [Int] = []
        for (i, key) in keys.enumerated() {
            JSONWriter.writeKey(key, first: i == 0, into: &text)
            ends.append(text.count)
        }
        keyBytes = text
        keyEnds = ends
        slots = keys.map { index.slot(of: $0) ?? -1 }
    }

    /// Writes each key's text and `values[i]` (scalars, whose text
    /// ``JSONWriter/scalarBound(_:)`` bounds: at most `keyBytes.count` plus those bounds)
    /// at `p`, recording in `offsets` where each indexed value starts, `start` being
    /// where `p` is in the event's bytes. Returns how many bytes it wrote.
    @inline(__always)
    func write(
        _ values: UnsafePointer<JSON>, at p: UnsafeMutablePointer<UInt8>, start: Int, offsets: inout FieldOffsets
    ) -> Int {
        writeMembers(at: p, start: start, offsets: &offsets) { i, at in JSONWriter.write(values[i], at: at) }
    }

    /// ``write(_:at:start:offsets:)`` with some values given as their text: where
    /// `texts[i]` is not nil, it is copied as the value, and `values[i]` is not read.
    @inline(__always)
    func write(
        _ values: UnsafePointer<JSON>, texts: UnsafePointer<UnsafeRawBufferPointer?>, at p: UnsafeMutablePointer<UInt8>,
        start: Int, offsets: inout FieldOffsets
    ) -> Int {
        writeMembers(at: p, start: start, offsets: &offsets) { i, at in
            guard let text = texts[i] else { return JSONWriter.write(values[i], at: at) }
            UnsafeMutableRawPointer(at).copyMemory(
                from: text.baseAddress ?? UnsafeRawPointer(at), byteCount: text.count)
            return text.count
        }
    }

    /// The members' loop: each key's text, its offset recorded when indexed, then the
    /// `i`th value as `writeValue(i, at)` writes it (returning its byte count).
    @inline(__always)
    func writeMembers(
        at p: UnsafeMutablePointer<UInt8>, start: Int, offsets: inout FieldOffsets,
        _ writeValue: (_ i: Int, _ at: UnsafeMutablePointer<UInt8>) -> Int
    ) -> Int {
        keyBytes.withUnsafeBufferPointer { keys in
            guard let keyBase = keys.baseAddress else { return 0 }
            var n = 0
            var k = 0
            for i in keyEnds.indices {
                let end = keyEnds[i]
                (p + n).update(from: keyBase + k, count: end - k)
                n += end - k
                k = end
                if slots[i] >= 0 { offsets.record(slots[i], offset: start + n) }
                n += writeValue(i, p + n)
            }
            return n
        }
    }
}
