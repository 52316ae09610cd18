import SluiceCEL
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

    /// Writes each key's text and the value `members[i]` stands for (scalars, whose
    /// text ``MemberValue/bound(json:)`` bounds: at most `keyBytes.count` plus those
    /// bounds) at `p`, recording in `offsets` where each indexed value starts, `start`
    /// being where `p` is in the event's bytes. Returns how many bytes it wrote. Each
    /// value is written as ``JSONWriter/write(_:at:)`` writes the JSON scalar it stands
    /// for, a `.text` copied as it is, and a `.json` from `json[i]`.
    @inline(__always)
    func write(
        _ members: UnsafePointer<MemberValue>, json: UnsafePointer<JSON>, at p: UnsafeMutablePointer<UInt8>,
        start: Int, offsets: inout FieldOffsets
    ) -> Int {
        writeMembers(at: p, start: start, offsets: &offsets) { i, at in
            switch members[i] {
            case .text(let text):
                UnsafeMutableRawPointer(at).copyMemory(
                    from: text.baseAddress ?? UnsafeRawPointer(at), byteCount: text.count)
                return text.count
            case .null: return JSONWriter.write(.null, at: at)
            case .bool(let b): return JSONWriter.write(.bool(b), at: at)
            case .int(let v): return JSONWriter.write(.int(v), at: at)
            case .double(let d): return JSONWriter.write(.double(d), at: at)
            case .json: return JSONWriter.write(json[i], at: at)
            }
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

/// A member's value as the text paths of `enrich` and `map` keep it between evaluating
/// and writing: plain words for the common scalars, so keeping one per field copies and
/// releases nothing (a ``JSON`` or ``CELValue`` slot is an outlined copy and destruction
/// per assignment). What ``MemberText/write(_:json:at:start:offsets:)`` writes for each
/// is exactly what ``JSONWriter/write(_:at:)`` writes for the JSON scalar it stands for.
enum MemberValue {
    /// The value's text in the event, copied as it is (see
    /// ``EventActivation/verbatimScalar(_:)``); valid while the event is lent.
    case text(UnsafeRawBufferPointer)
    case null
    case bool(Bool)
    case int(Int64)
    /// Finite (a non-finite double is an error to report, not a value to write).
    case double(Double)
    /// Anything else (a string): held in the step's JSON slot for this member.
    case json

    /// The scalar `v` as a member value, or nil (a string, a list, a map, a non-finite
    /// double: those take the JSON slot, or an error).
    @inline(__always)
    init?(_ v: CELValue) {
        switch v {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d) where d.isFinite: self = .double(d)
        default: return nil
        }
    }

    /// The most bytes writing it takes (``JSONWriter/scalarBound(_:)`` for the scalars).
    @inline(__always)
    func bound(json: JSON) -> Int? {
        switch self {
        case .text(let t): return t.count
        case .json: return JSONWriter.scalarBound(json)
        default: return 32
        }
    }
}
