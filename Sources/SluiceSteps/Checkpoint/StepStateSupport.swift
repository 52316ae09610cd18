import SluiceCore
import SluiceJSON

/// Builds a ``StepState``: keyed entries go to the writer of their key group, made when
/// the group gets its first entry; each group's bytes are its entries one after another.
struct GroupedStateWriter {
    private var writers: [StateWriter?] = Array(repeating: nil, count: KeyGroups.count)
    /// The least group with an entry (``KeyGroups/count`` when none): where the snapshot's
    /// counters are counted on restore (see ``StepStateRestore/countsCounters(of:owns:)``).
    private(set) var home = KeyGroups.count

    /// Appends an entry for the key whose ``JSONKeyHash`` is `hash`.
    @inline(__always)
    mutating func entry(ofHash hash: UInt64, _ body: (inout StateWriter) -> Void) {
        entry(inGroup: KeyGroups.group(ofHash: hash), body)
    }

    /// Appends an entry to group `group`.
    @inline(__always)
    mutating func entry(inGroup group: Int, _ body: (inout StateWriter) -> Void) {
        // Taken out and put back, so that the bytes are never copied.
        var w = writers[group] ?? StateWriter()
        writers[group] = nil
        body(&w)
        writers[group] = w
        if group < home { home = group }
    }

    /// The state: `shared` as given, the groups that have entries.
    func state(version: Int, shared: StateWriter) -> StepState {
        var groups: [Int: [UInt8]] = [:]
        for g in writers.indices { if let w = writers[g] { groups[g] = w.bytes } }
        return StepState(version: version, shared: shared.bytes, groups: groups)
    }
}

/// Reading ``StepState``s back, the same way for every step.
enum StepStateRestore {
    /// Throws unless every part is at `version`, the one `kind` writes.
    static func check(_ parts: [StepState], version: Int, kind: String) throws(StateError) {
        for p in parts where p.version != version {
            throw StateError(
                "\(kind): checkpoint state has format version \(p.version); this Sluice reads version \(version) (was the checkpoint taken by another version?)"
            )
        }
    }

    /// Calls `body` with a reader of each group of each part that `owns` accepts, parts
    /// in the order given and groups in ascending order; `body` reads every entry (until
    /// the reader is at its end).
    static func forEachOwnedGroup(
        _ parts: [StepState], owns: (Int) -> Bool, _ body: (Int, inout StateReader) throws(StateError) -> Void
    ) throws(StateError) {
        for (i, p) in parts.enumerated() {
            for g in p.groups.keys.sorted() where owns(g) {
                guard g >= 0, g < KeyGroups.count, let bytes = p.groups[g] else {
                    throw StateError("checkpoint state has an unknown key group \(g)")
                }
                var r = StateReader(bytes)
                while !r.isAtEnd { try body(i, &r) }
            }
        }
    }

    /// Whether this copy takes on the counters (for `--stats`) saved in a part's shared
    /// state, whose home group (``GroupedStateWriter/home``) is `home`: the copy that owns
    /// the home group does, so that each part's counters are counted once however the
    /// parts are shared out; a part with no keyed entries has its counters counted by the
    /// copy that owns group 0.
    static func countsCounters(home: Int, owns: (Int) -> Bool) -> Bool {
        owns(home < KeyGroups.count ? home : 0)
    }
}
