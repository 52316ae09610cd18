import SluiceCEL
import SluiceCore
import SluiceJSON

/// The events partial matches hold, each stored once, and the match paths over them
/// (Flink's `SharedBuffer`, after the SASE paper's shared versioned buffer).
///
/// A *slot* holds one event; a *node* says "this event was taken by step `step`, after
/// node `prev`". A partial match is a pointer to its last node, so partial matches that
/// share a prefix share its nodes, and an event taken by many partial matches is one
/// slot. Both are reference counted: a partial match holds its node, a node holds its
/// slot and its predecessor; releasing the last holder frees the entry and its free
/// list reuses it, so memory returns when matches complete or expire. Storage is a few
/// parallel arrays, so the steady state allocates nothing.
///
/// A class owned by one pattern step (and used only from its thread): as a struct in
/// the step's stored property, every read-only call copied all of its arrays first.
final class SharedBuffer {
    @exclusivity(unchecked) private(set) var events: [Event] = []
    @exclusivity(unchecked) private(set) var slotSeq: [Int64] = []
    @exclusivity(unchecked) private var slotRefs: [Int32] = []
    @exclusivity(unchecked) private var slotCEL: [CELValue?] = []
    @exclusivity(unchecked) private var freeSlots: [Int32] = []

    @exclusivity(unchecked) private(set) var nodeSlot: [Int32] = []
    @exclusivity(unchecked) private(set) var nodeStep: [Int32] = []
    @exclusivity(unchecked) private(set) var nodePrev: [Int32] = []
    @exclusivity(unchecked) private var nodeRefs: [Int32] = []
    @exclusivity(unchecked) private var freeNodes: [Int32] = []

    /// Slots in use.
    @exclusivity(unchecked) private(set) var liveSlots = 0
    /// Nodes in use.
    @exclusivity(unchecked) private(set) var liveNodes = 0

    /// Stores `event` (with its per-key sequence number) in a new slot with no holders yet.
    func addEvent(_ event: consuming Event, seq: Int64) -> Int32 {
        liveSlots += 1
        if let s = freeSlots.popLast() {
            let i = Int(s)
            events[i] = event
            slotSeq[i] = seq
            slotRefs[i] = 0
            slotCEL[i] = nil
            return s
        }
        events.append(event)
        slotSeq.append(seq)
        slotRefs.append(0)
        slotCEL.append(nil)
        return Int32(events.count - 1)
    }

    /// Frees a fresh slot that no node took (the event was not taken after all); a slot
    /// that was taken and already freed by ``release(_:)`` is left alone.
    func dropIfUnused(_ slot: Int32) {
        if slotRefs[Int(slot)] == 0 { freeSlot(slot) }
    }

    private func freeSlot(_ slot: Int32) {
        let i = Int(slot)
        events[i] = Event(.null)
        slotCEL[i] = nil
        slotRefs[i] = -1  // free: neither fresh (0) nor held
        freeSlots.append(slot)
        liveSlots -= 1
    }

    /// A new node for `slot` taken by `step` after `prev` (-1: first), held once.
    func addNode(slot: Int32, step: Int, prev: Int32) -> Int32 {
        slotRefs[Int(slot)] += 1
        if prev >= 0 { nodeRefs[Int(prev)] += 1 }
        liveNodes += 1
        if let n = freeNodes.popLast() {
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
            if slotRefs[slot] == 0 { freeSlot(Int32(slot)) }
            let prev = nodePrev[i]
            freeNodes.append(n)
            liveNodes -= 1
            n = prev
        }
    }

    /// The event of a node's slot.
    @inline(__always)
    func event(ofNode node: Int32) -> Event { events[Int(nodeSlot[Int(node)])] }

    /// The value of a node's event (read in place, without copying the event first).
    @inline(__always)
    func value(ofNode node: Int32) -> JSON {
        let s = Int(nodeSlot[Int(node)])
        return events.withUnsafeBufferPointer { $0[s].value }
    }

    /// The per-key sequence number of a node's event.
    @inline(__always)
    func seq(ofNode node: Int32) -> Int64 { slotSeq[Int(nodeSlot[Int(node)])] }

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
