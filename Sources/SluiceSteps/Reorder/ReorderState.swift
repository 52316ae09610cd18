import SluiceCore
import SluiceJSON

/// Checkpoints of a reorder step (docs/checkpoints.md, "What each step saves").
///
/// Format version 1. The step has no key: each buffered event is an entry (time ·
/// arrival number · the event's text, time, line and watermark) under the key group of
/// its arrival number's hash, so that at any parallelism every buffered event is
/// restored by exactly one copy. Shared: the last watermark advanced to, the floor
/// (the latest time emitted), the home group and the `emitted_early` counter. Several
/// parts merge into one buffer in arrival order (by number, then part); the watermark
/// and the floor are the least of the parts'.
extension ReorderStep: StatefulStep {
    static let stateVersion = 1

    /// No key.
    package var stateKeySource: String? { nil }

    package func snapshotState() throws(StateError) -> StepState {
        var groups = GroupedStateWriter()
        buffer.forEach { item in
            groups.entry(ofHash: JSONKeyHash.hash(.int(Int64(bitPattern: item.seq)))) { w in
                w.write(item.time)
                w.write(item.seq)
                w.write(event: item.event)
            }
        }
        var shared = StateWriter()
        shared.write(advanced)
        shared.write(floor)
        shared.write(groups.home)
        shared.write(emittedEarlyCount)
        return groups.state(version: Self.stateVersion, shared: shared)
    }

    package func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        try StepStateRestore.check(parts, version: Self.stateVersion, kind: "reorder")
        var adv = Int64.max
        var flo = Int64.max
        var early = 0
        for p in parts {
            var r = StateReader(p.shared)
            adv = min(adv, try r.readInt64())
            flo = min(flo, try r.readInt64())
            let home = try r.readInt()
            let e = try r.readInt()
            try r.finish()
            if StepStateRestore.countsCounters(home: home, owns: owns) { early &+= e }
        }
        var items: [(seq: UInt64, part: Int, time: Int64, event: Event)] = []
        try StepStateRestore.forEachOwnedGroup(parts, owns: owns) { (part, r) throws(StateError) in
            let time = try r.readInt64()
            let seq = try r.readUInt()
            let event = try r.readEvent()
            items.append((seq, part, time, event))
        }
        items.sort { ($0.seq, $0.part) < ($1.seq, $1.part) }
        buffer = EventTimeQueue<Item>()
        for (i, it) in items.enumerated() { buffer.push(Item(time: it.time, seq: UInt64(i), event: it.event)) }
        nextSeq = UInt64(items.count)
        advanced = parts.isEmpty ? Int64.min : adv
        floor = parts.isEmpty ? Int64.min : flo
        emittedEarlyCount = early
    }
}
