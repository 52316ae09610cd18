import SluiceCEL
import SluiceJSON

/// Arrival conditions of a pattern step decided by one field's string value, without CEL:
/// `kind == "login"` holds exactly when `kind` is the string `login`, and
/// `kind == "purchase" && amount > 400` is false whenever `kind` is another string
/// (``CELProgram/asciiEquality`` and ``CELProgram/asciiGuards``). A pattern's steps
/// usually tell event kinds apart this way, so reading that one field and comparing
/// it with a few texts decides most conditions; the others, and every condition of an
/// event whose field is absent or not a string, go through CEL as before.
///
/// The field must be one the conditions read from the event itself: not `event`,
/// `params`, a table or a dotted name, and ASCII (so that the first key of its length
/// and equal to it is the one CEL reads).
///
/// A class, read through an unowned reference per event (see
/// ``PatternStep/discriminator``), so that its field and texts are not retained.
package final class PatternDiscriminator {
    struct Text {
        var text: String
        var utf8Count: Int
        /// Conditions that are exactly `field == text`: they hold when the field is `text`.
        var exact: UInt64
        /// Conditions with `field == text` under `&&`: false when the field is not `text`.
        var guarded: UInt64
        /// The text's ``KeyTable/shortPrint(_:)`` when it has up to 15 bytes (exact: the
        /// texts are ASCII), else nil.
        var print: KeyTable.Fingerprint?
    }

    let field: String
    let fieldCount: Int
    let texts: [Text]
    /// Every condition that is exactly an equality of ``field`` (known whenever the field is a string).
    let exact: UInt64

    /// The discriminator of `conditions` (bit and expression each), or nil when no
    /// condition tests a plain field against an ASCII string.
    init?(_ conditions: [(bit: UInt64, expression: Expression?)], compiler: ExpressionCompiler) {
        func plain(_ name: CELName) -> Bool {
            compiler.answersWithEventField(name) && !name.string.isEmpty && name.string.utf8.allSatisfy { $0 < 0x80 }
        }
        guard
            let name = conditions.lazy.compactMap({ $0.expression?.program.asciiGuards.first { plain($0.name) }?.name })
                .first
        else { return nil }
        var texts: [Text] = []
        var exact: UInt64 = 0
        func entry(_ text: String) -> Int {
            if let i = texts.firstIndex(where: { $0.text == text }) { return i }
            let bytes = Array(text.utf8)
            let print = bytes.count <= 15 ? bytes.withUnsafeBufferPointer { KeyTable.shortPrint($0) } : nil
            texts.append(Text(text: text, utf8Count: bytes.count, exact: 0, guarded: 0, print: print))
            return texts.count - 1
        }
        for (bit, e) in conditions {
            guard let program = e?.program else { continue }
            if let (n, text) = program.asciiEquality, n.id == name.id {
                texts[entry(text)].exact |= bit
                exact |= bit
                continue
            }
            for (n, text) in program.asciiGuards where n.id == name.id { texts[entry(text)].guarded |= bit }
        }
        field = name.string
        fieldCount = name.string.utf8.count
        self.texts = texts
        self.exact = exact
    }

    /// Where the field is among a parsed object's keys (trying `hint` first, where it was
    /// last), or nil when absent.
    @inline(__always)
    func position(in names: UnsafeBufferPointer<String>, hint: inout Int) -> Int? {
        let h = hint
        if h < names.count, names[h].utf8.count == fieldCount, names[h] == field { return h }
        for i in names.indices where names[i].utf8.count == fieldCount && names[i] == field {
            hint = i
            return i
        }
        return nil
    }

    /// ``decide(_:)`` of a string of up to 15 ASCII bytes, none an escape, given by their
    /// ``KeyTable/shortPrint(_:)`` `print`: such a string equals a text exactly when their
    /// bytes are equal (an ASCII string is its own canonical form), and a text of more
    /// than 15 bytes is never equal to it.
    @inline(__always)
    func decide(shortPrint print: KeyTable.Fingerprint) -> (mask: UInt64, known: UInt64, held: Int) {
        decide { $0.print == print }
    }

    /// The conditions the field's value `value` decides (`known`) and which of those hold
    /// (`mask`): none unless it is a string; and which text it is (`held`, -1: none), so
    /// that a condition `field == text && rest` is decided by `rest` alone.
    @inline(__always)
    func decide(_ value: UnsafePointer<JSON>) -> (mask: UInt64, known: UInt64, held: Int) {
        guard case .string(let s) = value.pointee else { return (0, 0, -1) }
        let n = s.utf8.count
        return decide { $0.utf8Count == n && $0.text == s }
    }

    /// The conditions decided by which text `equals` holds for (at most one: the texts
    /// are distinct), for the two ``decide`` above.
    @inline(__always)
    func decide(where equals: (Text) -> Bool) -> (mask: UInt64, known: UInt64, held: Int) {
        var mask: UInt64 = 0
        var failed: UInt64 = 0
        var held = -1
        texts.withUnsafeBufferPointer { texts in
            for i in texts.indices {
                let t = texts[i]
                if equals(t) {
                    mask |= t.exact
                    held = i
                } else {
                    failed |= t.guarded
                }
            }
        }
        return (mask, exact | failed, held)
    }

    /// The index of `text` among the texts, or nil.
    func index(of text: String) -> Int? { texts.firstIndex { $0.text == text } }
}
