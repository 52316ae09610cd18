import SluiceCEL
import SluiceCore
import SluiceJSON

/// The events partial matches hold, each stored once, and the match paths over them
/// (Flink's `SharedBuffer`, after the SASE paper's shared versioned buffer).
///
/// A *slot* holds one event, stored once when it arrives: the step's queue holds it
/// until the watermark releases it, then nodes hold it for as long as partial matches
/// need it, so it is never moved or copied in between. A *node* says "this event was taken by step `step`, after
/// node `prev`". A partial match is a pointer to its last node, so partial matches that
/// share a prefix share its nodes, and an event taken by many partial matches is one
/// slot. Both are reference counted: a partial match holds its node, a node holds its
/// slot and its predecessor; releasing the last holder frees the entry and its free
/// list reuses it, so memory returns when matches complete or expire. Storage is a few
/// parallel columns (``RawColumn``), so the steady state allocates nothing.
///
/// A class owned by one pattern step (and used only from its thread): as a struct in
/// the step's stored property, every read-only call copied all of its arrays first.
final class SharedBuffer {
    @exclusivity(unchecked) private var events = RawColumn<Event>()
    @exclusivity(unchecked) private var slotSeq = RawColumn<Int64>()
    @exclusivity(unchecked) private var slotRefs = RawColumn<Int32>()
    @exclusivity(unchecked) private var slotCEL = RawColumn<CELValue?>()
    @exclusivity(unchecked) private var freeSlots = RawColumn<Int32>()

    @exclusivity(unchecked) private var nodeSlot = RawColumn<Int32>()
    @exclusivity(unchecked) private var nodeStep = RawColumn<Int32>()
    @exclusivity(unchecked) private var nodePrev = RawColumn<Int32>()
    @exclusivity(unchecked) private var nodeRefs = RawColumn<Int32>()
    @exclusivity(unchecked) private var freeNodes = RawColumn<Int32>()

    /// Slots in use (held by the step's queue or by nodes).
    @exclusivity(unchecked) private(set) var liveSlots = 0
    /// Nodes in use.
    @exclusivity(unchecked) private(set) var liveNodes = 0

    deinit {
        events.release()
        slotSeq.release()
        slotRefs.release()
        slotCEL.release()
        freeSlots.release()
        nodeSlot.release()
        nodeStep.release()
        nodePrev.release()
        nodeRefs.release()
        freeNodes.release()
    }

    /// Stores `event` in a new slot, held once (by the caller: the step holds a queued
    /// event's slot until the watermark releases it, see ``releaseSlot(_:)``). The event
    /// is stored once, when it arrives, and stays where it is until its last holder goes.
    @inline(__always)
    func addEvent(_ event: consuming Event) -> Int32 {
        liveSlots += 1
        if freeSlots.count > 0 {
            let s = freeSlots.removeLast()
            let i = Int(s)
            events[i] = event
            slotRefs[i] = 1
            return s
        }
        events.append(event)
        slotSeq.append(0)
        slotRefs.append(1)
        slotCEL.append(nil)
        return Int32(events.count - 1)
    }

    /// Sets the per-key sequence number of the event in `slot` (known once it is matched).
    @inline(__always)
    func setSeq(_ slot: Int32, _ seq: Int64) { slotSeq[Int(slot)] = seq }

    /// Drops the caller's hold on `slot` (see ``addEvent(_:)``); frees it when no node
    /// took the event.
    @inline(__always)
    func releaseSlot(_ slot: Int32) {
        let i = Int(slot)
        slotRefs[i] -= 1
        if slotRefs[i] == 0 { freeSlot(i) }
    }

    private func freeSlot(_ i: Int) {
        events[i] = Event(.null)
        if slotCEL[i] != nil { slotCEL[i] = nil }
        freeSlots.append(Int32(i))
        liveSlots -= 1
    }

    /// The event in `slot`, where it is (valid while the slot is held).
    @inline(__always)
    func eventPointer(_ slot: Int32) -> UnsafePointer<Event> { UnsafePointer(events.base + Int(slot)) }

    /// A new node for `slot` taken by `step` after `prev` (-1: first), held once.
    @inline(__always)
    func addNode(slot: Int32, step: Int, prev: Int32) -> Int32 {
        slotRefs[Int(slot)] += 1
        if prev >= 0 { nodeRefs[Int(prev)] += 1 }
        liveNodes += 1
        if freeNodes.count > 0 {
            let n = freeNodes.removeLast()
            let i = Int(n)
            nodeSlot[i] = slot
            nodeStep[i] = Int32(step)
            nodePrev[i] = prev
            nodeRefs[i] = 1
            return n
        }
        nodeSlot.append(slot)
        nodeStep.append(Int32(step))
        nodePrev.append(prev)
        nodeRefs.append(1)
        return Int32(nodeSlot.count - 1)
    }

    /// One more holder of `node`.
    @inline(__always)
    func retain(_ node: Int32) {
        if node >= 0 { nodeRefs[Int(node)] += 1 }
    }

    /// One holder fewer; frees the node, its slot and its predecessors as they become unheld.
    func release(_ node: Int32) {
        var n = node
        while n >= 0 {
            let i = Int(n)
            nodeRefs[i] -= 1
            if nodeRefs[i] > 0 { return }
            let slot = Int(nodeSlot[i])
            slotRefs[slot] -= 1
            if slotRefs[slot] == 0 { freeSlot(slot) }
            let prev = nodePrev[i]
            freeNodes.append(n)
            liveNodes -= 1
            n = prev
        }
    }

    /// The event of a node's slot.
    @inline(__always)
    func event(ofNode node: Int32) -> Event { events[Int(nodeSlot[Int(node)])] }

    /// The event of a node's slot, where it is (valid while the node is held).
    @inline(__always)
    func eventPointer(ofNode node: Int32) -> UnsafePointer<Event> { eventPointer(nodeSlot[Int(node)]) }

    /// The value of a node's event (read in place, without copying the event first).
    @inline(__always)
    func value(ofNode node: Int32) -> JSON { events[Int(nodeSlot[Int(node)])].value }

    /// The per-key sequence number of a node's event.
    @inline(__always)
    func seq(ofNode node: Int32) -> Int64 { slotSeq[Int(nodeSlot[Int(node)])] }

    /// The step that took a node's event.
    @inline(__always)
    func step(ofNode node: Int32) -> Int { Int(nodeStep[Int(node)]) }

    /// The node before `node` on its path (-1: none).
    @inline(__always)
    func prev(ofNode node: Int32) -> Int32 { nodePrev[Int(node)] }

    /// The event of a node as a CEL value, converted once per slot.
    func celValue(ofNode node: Int32) -> CELValue {
        let s = Int(nodeSlot[Int(node)])
        if let v = slotCEL[s] { return v }
        let v = CELValue(json: events[s].value)
        slotCEL[s] = v
        return v
    }

    /// The path ending at `node`, first event first: (step, node) pairs.
    func path(_ node: Int32, into out: inout [(step: Int, node: Int32)]) {
        out.removeAll(keepingCapacity: true)
        var n = node
        while n >= 0 {
            out.append((Int(nodeStep[Int(n)]), n))
            n = nodePrev[Int(n)]
        }
        out.reverse()
    }
}
