import SluiceCore
import SluiceJSON

/// Checkpoints of a pattern step (docs/checkpoints.md, "What each step saves").
///
/// Format version 1. Keyed, one entry per key the step has seen, under the key group of
/// the key value's ``JSONKeyHash`` (null for a pattern without `key:`):
///
///     key (JSON) · its number in first-seen order · its event sequence number ·
///     its deadline and that deadline's number in the deadline queue (or none) ·
///     the events its partial matches hold (sequence number · text, time, line, watermark) ·
///     the shared-buffer nodes over them (event · step · previous node, earlier in the list) ·
///     its partial matches, oldest first (step · count · last step · node · may proceed ·
///                                         start time · start and last sequence numbers) ·
///     its events waiting for the watermark (time · arrival number · condition bits ·
///                                           the event, unless no step can take it)
///
/// Shared: the latest event time released, the home group and the counters (matches,
/// condition errors, events over state limits). The shared buffer is rebuilt with the
/// same sharing (an event held by several partial matches is stored once, a common
/// prefix is one chain of nodes) and the same reference counts. Several parts merge by
/// first-seen number, arrival number and deadline number (each then by part); a key
/// found in two parts cannot be merged (its partial matches' sequence numbers would
/// clash) and is refused.
extension PatternStep: StatefulStep {
    static let stateVersion = 1

    /// The `key:` as written; nil without one.
    package var stateKeySource: String? {
        switch pattern.key {
        case .global: nil
        case .field(let f): f
        case .expression(let e): e.source
        }
    }

    package func snapshotState() throws(StateError) -> StepState {
        // Each key's waiting events, and the deadline-queue entry that is live for it.
        var waiting: [Int32: [QueuedEvent]] = [:]
        queue.forEach { waiting[$0.key, default: []].append($0) }
        var deadlineSeqs: [Int32: Int64] = [:]
        deadlines.forEach { d in
            if runner.keys[Int(d.key)].scheduled == d.time { deadlineSeqs[d.key] = d.seq }
        }
        var groups = GroupedStateWriter()
        var matches: [PartialMatch] = []
        var nodeIDs: [Int32: Int] = [:]
        var nodeOrder: [Int32] = []
        var slotIDs: [Int32: Int] = [:]
        var slotOrder: [Int32] = []
        var path: [Int32] = []
        for k in 0..<runner.keyCount {
            let key = runner.keys[k]
            matches.removeAll(keepingCapacity: true)
            if key.hasPartialMatches {
                matches.append(key.first)
                var i = key.first.link
                while i >= 0 {
                    matches.append(runner.pool[Int(i)])
                    i = runner.pool[Int(i)].link
                }
            }
            // The nodes the partial matches reach, each after its predecessor.
            nodeIDs.removeAll(keepingCapacity: true)
            nodeOrder.removeAll(keepingCapacity: true)
            slotIDs.removeAll(keepingCapacity: true)
            slotOrder.removeAll(keepingCapacity: true)
            for m in matches {
                path.removeAll(keepingCapacity: true)
                var n = m.node
                while n >= 0, nodeIDs[n] == nil {
                    path.append(n)
                    n = buffer.prev(ofNode: n)
                }
                for x in path.reversed() {
                    nodeIDs[x] = nodeOrder.count
                    nodeOrder.append(x)
                    let s = buffer.slot(ofNode: x)
                    if slotIDs[s] == nil {
                        slotIDs[s] = slotOrder.count
                        slotOrder.append(s)
                    }
                }
            }
            let queued = waiting[Int32(k)] ?? []
            groups.entry(ofHash: JSONKeyHash.hash(keyValues[k])) { w in
                w.write(keyValues[k])
                w.write(k)
                w.write(key.seq)
                if key.scheduled != Int64.max, let seq = deadlineSeqs[Int32(k)] {
                    w.write(true)
                    w.write(key.scheduled)
                    w.write(seq)
                } else {
                    w.write(false)
                }
                w.write(UInt64(slotOrder.count))
                for s in slotOrder {
                    let e = buffer.eventPointer(s)
                    w.write(buffer.seq(ofSlot: s))
                    w.write(event: e.pointee)
                }
                w.write(UInt64(nodeOrder.count))
                for n in nodeOrder {
                    w.write(slotIDs[buffer.slot(ofNode: n)] ?? 0)
                    w.write(buffer.step(ofNode: n))
                    let p = buffer.prev(ofNode: n)
                    w.write(p < 0 ? -1 : nodeIDs[p] ?? -1)
                }
                w.write(UInt64(matches.count))
                for m in matches {
                    w.write(Int(m.step))
                    w.write(Int(m.count))
                    w.write(Int(m.lastStep))
                    w.write(m.node < 0 ? -1 : nodeIDs[m.node] ?? -1)
                    w.write(m.canProceed)
                    w.write(m.startTime)
                    w.write(m.startSeq)
                    w.write(m.lastSeq)
                }
                w.write(UInt64(queued.count))
                for q in queued {
                    w.write(q.time)
                    w.write(q.arrival)
                    w.write(q.mask)
                    w.write(q.known)
                    w.write(q.slot >= 0)
                    if q.slot >= 0 { w.write(event: buffer.eventPointer(q.slot).pointee) }
                }
            }
        }
        var shared = StateWriter()
        shared.write(lastTime)
        shared.write(groups.home)
        shared.write(matchCount)
        shared.write(arrivalConditionErrors)
        shared.write(runner.conditionErrors)
        shared.write(overStateLimits)
        return groups.state(version: Self.stateVersion, shared: shared)
    }

    /// One key's state, read back.
    private struct SavedKey {
        var part: Int
        var value: JSON
        var order: Int
        var seq: Int64
        var deadline: (time: Int64, seq: Int64)?
        var slots: [(seq: Int64, event: Event)]
        var nodes: [(slot: Int, step: Int, prev: Int)]
        var matches: [PartialMatch]
        var queued: [(time: Int64, arrival: Int64, mask: UInt64, known: UInt64, event: Event?)]
    }

    /// Restores into a freshly made step (one that has seen nothing).
    package func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        try StepStateRestore.check(parts, version: Self.stateVersion, kind: "pattern")
        guard runner.keyCount == 0, queue.isEmpty else {
            throw StateError("pattern: state can only be restored into a step that has seen no events")
        }
        var last = Int64.min
        var counters = (matches: 0, arrivalErrors: 0, conditionErrors: 0, over: 0)
        for p in parts {
            var r = StateReader(p.shared)
            last = max(last, try r.readInt64())
            let home = try r.readInt()
            let c = (try r.readInt(), try r.readInt(), try r.readInt(), try r.readInt())
            try r.finish()
            if StepStateRestore.countsCounters(home: home, owns: owns) {
                counters.matches &+= c.0
                counters.arrivalErrors &+= c.1
                counters.conditionErrors &+= c.2
                counters.over &+= c.3
            }
        }
        let stateCount = runner.stateCount
        var saved: [SavedKey] = []
        try StepStateRestore.forEachOwnedGroup(parts, owns: owns) { (part, r) throws(StateError) in
            let bad = StateError("pattern: checkpoint state has a malformed partial match")
            var key = SavedKey(
                part: part, value: try r.readJSON(), order: try r.readInt(), seq: try r.readInt64(), deadline: nil,
                slots: [], nodes: [], matches: [], queued: [])
            // Sequence numbers go up by one per event: bounded so that they cannot overflow.
            let seqs = Int64(-1)...(Int64.max / 4)
            guard seqs.contains(key.seq) else { throw bad }
            if try r.readBool() { key.deadline = (try r.readInt64(), try r.readInt64()) }
            for _ in 0..<(try r.readCount(minBytes: 5)) {
                let seq = try r.readInt64()
                guard seqs.contains(seq) else { throw bad }
                key.slots.append((seq, try r.readEvent()))
            }
            for i in 0..<(try r.readCount(minBytes: 3)) {
                let node = (slot: try r.readInt(), step: try r.readInt(), prev: try r.readInt())
                guard key.slots.indices.contains(node.slot), (0..<stateCount).contains(node.step),
                    node.prev >= -1, node.prev < i
                else { throw bad }
                key.nodes.append(node)
            }
            for _ in 0..<(try r.readCount(minBytes: 8)) {
                let step = try r.readInt()
                let count = try r.readInt()
                let lastStep = try r.readInt()
                let node = try r.readInt()
                guard (0...stateCount).contains(step), (0...Int(Int32.max)).contains(count),
                    (-1..<stateCount).contains(lastStep), node >= -1, node < key.nodes.count
                else { throw bad }
                let m = PartialMatch(
                    step: Int32(step), count: Int32(count), lastStep: Int32(lastStep), node: Int32(node),
                    canProceed: try r.readBool(), startTime: try r.readInt64(), startSeq: try r.readInt64(),
                    lastSeq: try r.readInt64())
                guard seqs.contains(m.startSeq), seqs.contains(m.lastSeq) else { throw bad }
                key.matches.append(m)
            }
            for _ in 0..<(try r.readCount(minBytes: 5)) {
                let time = try r.readInt64()
                let arrival = try r.readInt64()
                let mask = try r.readUInt()
                let known = try r.readUInt()
                let event = try r.readBool() ? try r.readEvent() : nil
                key.queued.append((time, arrival, mask, known, event))
            }
            saved.append(key)
        }
        saved.sort { ($0.order, $0.part) < ($1.order, $1.part) }
        var queuedOrder: [(arrival: Int64, part: Int, entry: QueuedEvent)] = []
        var deadlineOrder: [(seq: Int64, part: Int, deadline: Deadline)] = []
        var unscheduled: [Int] = []
        for key in saved {
            let before = runner.keyCount
            let k = Int(keyIndex(of: key.value))
            guard runner.keyCount > before else {
                throw StateError(
                    "pattern: key \(JSONWriter.string(key.value)) is in the state of two copies; state restores at another parallelism only when the pattern's key is the stream's"
                )
            }
            runner.keys[k].seq = key.seq
            var slotIDs: [Int32] = []
            for s in key.slots {
                let id = buffer.addEvent(s.event)
                buffer.setSeq(id, s.seq)
                slotIDs.append(id)
            }
            var nodeIDs: [Int32] = []
            for n in key.nodes {
                nodeIDs.append(
                    buffer.addNode(slot: slotIDs[n.slot], step: n.step, prev: n.prev < 0 ? -1 : nodeIDs[n.prev]))
            }
            var matches = RawColumn<PartialMatch>()
            for var m in key.matches {
                let local = Int(m.node)
                m.node = local < 0 ? -1 : nodeIDs[local]
                m.link = -1
                buffer.retain(m.node)
                matches.append(m)
            }
            // The holds taken while building go: what is left are the partial matches'
            // and the later nodes'.
            for n in nodeIDs { buffer.release(n) }
            for s in slotIDs { buffer.releaseSlot(s) }
            runner.storePartialMatches(k, &matches)
            runner.livePartialMatches += matches.count
            for q in key.queued {
                let slot = q.event.map { buffer.addEvent($0) } ?? -1
                queuedOrder.append(
                    (
                        q.arrival, key.part,
                        QueuedEvent(time: q.time, arrival: 0, key: Int32(k), slot: slot, mask: q.mask, known: q.known)
                    ))
            }
            if let d = key.deadline {
                runner.keys[k].scheduled = d.time
                deadlineOrder.append((d.seq, key.part, Deadline(time: d.time, seq: 0, key: Int32(k))))
            } else if runner.keys[k].hasPartialMatches {
                unscheduled.append(k)
            }
        }
        queuedOrder.sort { ($0.arrival, $0.part) < ($1.arrival, $1.part) }
        for (i, q) in queuedOrder.enumerated() {
            var e = q.entry
            e.arrival = Int64(i + 1)
            queue.push(e)
        }
        arrivals = Int64(queuedOrder.count)
        deadlineOrder.sort { ($0.seq, $0.part) < ($1.seq, $1.part) }
        for (i, d) in deadlineOrder.enumerated() {
            var e = d.deadline
            e.seq = Int64(i + 1)
            deadlines.push(e)
        }
        deadlineSeq = Int64(deadlineOrder.count)
        for k in unscheduled { schedule(k) }
        lastTime = last
        matchCount = counters.matches
        arrivalConditionErrors = counters.arrivalErrors
        runner.conditionErrors = counters.conditionErrors
        overStateLimits = counters.over
    }
}
