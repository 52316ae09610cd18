import SluiceCore
import SluiceJSON

/// Checkpoints of a dedupe step (docs/checkpoints.md, "What each step saves").
///
/// Format version 1. Keyed, one entry per kept occurrence still held, under the key
/// group of the key's ``JSONKeyHash``: key (JSON) · time kept · its number in keeping
/// order (which decides the order `max_keys` evicts in). Shared: the home group and the
/// `dropped` and `evicted` counters (see ``StepStateRestore/countsCounters(home:owns:)``).
/// The seen set and the expiry queue are both rebuilt from the occurrences, in keeping
/// order (parts merged by number, then part).
extension DedupeStep: StatefulStep {
    static let stateVersion = 1

    /// The `key:` expression as written.
    package var stateKeySource: String? { key.source }

    package func snapshotState() throws(StateError) -> StepState {
        var groups = GroupedStateWriter()
        expiries.forEach { e in
            groups.entry(ofHash: JSONKeyHash.hash(e.key)) { w in
                w.write(e.key)
                w.write(e.kept)
                w.write(e.seq)
            }
        }
        var shared = StateWriter()
        shared.write(groups.home)
        shared.write(droppedCount)
        shared.write(evictedCount)
        return groups.state(version: Self.stateVersion, shared: shared)
    }

    package func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        try StepStateRestore.check(parts, version: Self.stateVersion, kind: "dedupe")
        var dropped = 0
        var evicted = 0
        for p in parts {
            var r = StateReader(p.shared)
            let home = try r.readInt()
            let d = try r.readInt()
            let e = try r.readInt()
            try r.finish()
            if StepStateRestore.countsCounters(home: home, owns: owns) {
                dropped &+= d
                evicted &+= e
            }
        }
        var held: [(seq: UInt64, part: Int, key: JSON, kept: Int64)] = []
        try StepStateRestore.forEachOwnedGroup(parts, owns: owns) { (part, r) throws(StateError) in
            let key = try r.readJSON()
            let kept = try r.readInt64()
            let seq = try r.readUInt()
            held.append((seq, part, key, kept))
        }
        held.sort { ($0.seq, $0.part) < ($1.seq, $1.part) }
        seen = [:]
        expiries = EventTimeQueue<Expiry>()
        for (i, h) in held.enumerated() {
            if var entry = seen[h.key] {
                entry.more.append(h.kept)
                seen[h.key] = entry
            } else {
                seen[h.key] = Entry(first: h.kept)
            }
            expiries.push(Expiry(time: Self.expiry(h.kept, within), seq: UInt64(i), kept: h.kept, key: h.key))
        }
        nextSeq = UInt64(held.count)
        droppedCount = dropped
        evictedCount = evicted
    }

    /// When an occurrence kept at `t` expires (`t + within`, saturating; `within > 0`).
    static func expiry(_ t: Int64, _ within: Int64) -> Int64 {
        let (r, o) = t.addingReportingOverflow(within)
        return o ? Int64.max : r
    }
}
