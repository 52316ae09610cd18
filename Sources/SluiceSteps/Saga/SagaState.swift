import SluiceCore
import SluiceJSON

/// Checkpoints of a saga step (docs/checkpoints.md, "What each step saves").
///
/// Format version 1. Keyed, under the key group of the saga id's ``JSONKeyHash``: each
/// running or retained saga (tag 0, then its JSON form, as in docs/sagas.md "State"), and
/// each event waiting for the watermark (tag 1, then time · arrival number · key · whether
/// it starts a saga · the event's text, time, line and watermark). Shared: the next saga
/// serial number, the home group and the duplicate-replies counter. The deadline queue is
/// rebuilt from the sagas. Several parts merge: sagas as they are (serial numbers keep
/// their start order), waiting events in arrival order (by number, then part), the next
/// serial number the greatest.
extension SagaStep: StatefulStep {
    static let stateVersion = 1

    /// The `key:` as written.
    var stateKeySource: String? {
        switch compiled.key {
        case .field(let f): f
        case .expression(let e): e.source
        }
    }

    func snapshotState() throws(StateError) -> StepState {
        var groups = GroupedStateWriter()
        let whole = machine.snapshot()
        if case .array(let sagas)? = whole["sagas"] {
            for saga in sagas {
                groups.entry(ofHash: JSONKeyHash.hash(saga["id"] ?? .null)) { w in
                    w.write(UInt64(0))
                    w.write(saga)
                }
            }
        }
        queue.forEach { p in
            let e = waitingEntry(p)
            groups.entry(ofHash: JSONKeyHash.hash(e.key)) { w in
                w.write(UInt64(1))
                w.write(p.time)
                w.write(p.seq)
                w.write(e.key)
                w.write(p.isStart)
                w.write(event: e.event)
            }
        }
        var shared = StateWriter()
        if case .int(let serial)? = whole["next_serial"] { shared.write(serial) } else { shared.write(Int64(0)) }
        shared.write(groups.home)
        shared.write(machine.duplicates)
        return groups.state(version: Self.stateVersion, shared: shared)
    }

    func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        try StepStateRestore.check(parts, version: Self.stateVersion, kind: "saga")
        var serial: Int64 = 0
        var duplicates: Int64 = 0
        for p in parts {
            var r = StateReader(p.shared)
            serial = max(serial, try r.readInt64())
            let home = try r.readInt()
            let d = try r.readInt64()
            try r.finish()
            if StepStateRestore.countsCounters(home: home, owns: owns) { duplicates &+= d }
        }
        var sagas: [JSON] = []
        var waiting: [(part: Int, pending: Pending, key: JSON, event: Event)] = []
        try StepStateRestore.forEachOwnedGroup(parts, owns: owns) { (part, r) throws(StateError) in
            switch try r.readUInt() {
            case 0:
                sagas.append(try r.readJSON())
            case 1:
                let time = try r.readInt64()
                let seq = try r.readInt64()
                let key = try r.readJSON()
                let isStart = try r.readBool()
                let event = try r.readEvent()
                waiting.append(
                    (part, Pending(time: time, seq: seq, hash: SagaIndex.hash(key), isStart: isStart), key, event))
            case let tag:
                throw StateError("saga: checkpoint state has an entry of unknown kind \(tag)")
            }
        }
        let root = JSON.object(
            JSONObject([("next_serial", .int(serial)), ("duplicates", .int(duplicates)), ("sagas", .array(sagas))]))
        do {
            machine = try SagaStateMachine.restore(root, plan: compiled.plan)
        } catch {
            throw StateError("saga: \(error.description)")
        }
        waiting.sort { ($0.pending.seq, $0.part) < ($1.pending.seq, $1.part) }
        clearQueue()
        for (i, w) in waiting.enumerated() {
            var p = w.pending
            p.seq = Int64(i)
            enqueue(p, key: w.key, event: w.event)
        }
        nextSeq = Int64(waiting.count)
        timers = EventTimeQueue<Timer>()
        scheduled = Array(repeating: Self.unscheduled, count: machine.slotCount)
        for slot in 0..<machine.slotCount { schedule(slot) }
    }
}
