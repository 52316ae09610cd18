import CSluiceShims
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
    /// A stored event and its bookkeeping, two cache lines (the event is 112 bytes), so
    /// releasing an event touches nothing else.
    struct Slot {
        var event: Event
        /// The per-key sequence number of the event (set when it is matched).
        var seq: Int64 = 0
        /// Holders: the queue until the event is matched, then nodes; -1 when free.
        var refs: Int32
        /// Whether `cel` holds the event's CEL value.
        var hasCEL = false
    }

    /// A node: `slot`'s event taken by `step` after `prev`; 16 bytes.
    struct Node {
        var slot: Int32
        var step: Int32
        var prev: Int32
        var refs: Int32
    }

    @exclusivity(unchecked) private var slots = RawColumn<Slot>(alignment: 64)
    /// The CEL value of a slot's event, for conditions that read captures (see ``celValue(ofNode:)``).
    @exclusivity(unchecked) private var slotCEL: [CELValue?] = []
    @exclusivity(unchecked) private var freeSlots = RawColumn<Int32>()
    @exclusivity(unchecked) private var nodes = RawColumn<Node>()
    @exclusivity(unchecked) private var freeNodes = RawColumn<Int32>()

    /// Slots in use (held by the step's queue or by nodes).
    @exclusivity(unchecked) private(set) var liveSlots = 0
    /// Nodes in use.
    @exclusivity(unchecked) private(set) var liveNodes = 0
    /// Slots still held by the caller of ``addEvent(_:)`` (the step's queue).
    @exclusivity(unchecked) private(set) var queuedSlots = 0

    /// Events held by nodes only (for partial matches or matches), not waiting in the queue.
    var heldEvents: Int { liveSlots - queuedSlots }

    /// Stores `event` in a new slot, held once (by the caller: the step holds a queued
    /// event's slot until the watermark releases it, see ``releaseSlot(_:)``). The event
    /// is stored once, when it arrives, and stays where it is until its last holder goes.
    @inline(__always)
    func addEvent(_ event: consuming Event) -> Int32 {
        liveSlots += 1
        queuedSlots += 1
        if freeSlots.count > 0 {
            let s = freeSlots.removeLast()
            let i = Int(s)
            slots[i].event = event
            slots[i].refs = 1
            return s
        }
        return Int32(slots.append(Slot(event: event, refs: 1)))
    }

    // MARK: Prefetching (hints only, see `PatternStep.prefetchAhead()`)

    /// Starts loading `slot`'s two cache lines (its event and its bookkeeping).
    @inline(__always)
    func prefetchSlot(_ slot: Int32) {
        let p = UnsafeRawPointer(slots.base + Int(slot))
        sluice_prefetch(p)
        sluice_prefetch(p + 64)
    }

    /// Starts loading the headers (reference counts) of the arrays
    /// that hold the fields of `slot`'s event, when it is a parsed object: what retaining
    /// or releasing its value touches. Reads the slot, so ask for it first
    /// (``prefetchSlot(_:)``). The header of a Swift array's storage is the 32 bytes
    /// before its first element; were it not, this would only load the wrong line.
    @inline(__always)
    func prefetchFields(ofSlot slot: Int32) {
        Self.prefetchFields(of: eventPointer(slot), elements: false)
    }

    /// Starts loading the arrays that hold a parsed object event's keys and values: their
    /// headers (the 32 bytes before the first element, where the reference count is),
    /// and with `elements` the line after, where the first fields are. Nothing for other
    /// events.
    @inline(__always)
    static func prefetchFields(of event: UnsafePointer<Event>, elements: Bool) {
        @inline(__always) func load(_ base: UnsafeRawPointer?) {
            guard let base else { return }
            sluice_prefetch(base - 32)
            if elements { sluice_prefetch(base + 32) }
        }
        Event.withParsedFields(at: event) { keys, values in
            load(UnsafeRawPointer(keys.baseAddress))
            load(UnsafeRawPointer(values.baseAddress))
        }
    }

    /// Starts loading the slot ``addEvent(_:)`` fills next, if one is free (storing an
    /// event there destroys the one it held: the event line is read, then written).
    @inline(__always)
    func prefetchFreeSlot() {
        guard freeSlots.count > 0 else { return }
        let p = UnsafeRawPointer(slots.base + Int(freeSlots[freeSlots.count - 1]))
        sluice_prefetch_write(p)
        sluice_prefetch_write(p + 64)
    }

    /// Starts loading `node`.
    @inline(__always)
    func prefetchNode(_ node: Int32) {
        guard node >= 0 else { return }
        sluice_prefetch(nodes.base + Int(node))
    }

    /// ``prefetchSlot(_:)`` for `node`'s event: reads the node, so ask for it first
    /// (``prefetchNode(_:)``).
    @inline(__always)
    func prefetchSlot(ofNode node: Int32) {
        guard node >= 0 else { return }
        prefetchSlot(nodes[Int(node)].slot)
    }

    /// ``prefetchFields(ofSlot:)`` for `node`'s event: reads the node and its slot, so
    /// ask for them first (``prefetchSlot(ofNode:)``).
    @inline(__always)
    func prefetchFields(ofNode node: Int32) {
        guard node >= 0 else { return }
        prefetchFields(ofSlot: nodes[Int(node)].slot)
    }

    /// Sets the per-key sequence number of the event in `slot` (known once it is matched).
    @inline(__always)
    func setSeq(_ slot: Int32, _ seq: Int64) { slots[Int(slot)].seq = seq }

    /// Drops the caller's hold on `slot` (see ``addEvent(_:)``); frees it when no node
    /// took the event.
    @inline(__always)
    func releaseSlot(_ slot: Int32) {
        queuedSlots -= 1
        let i = Int(slot)
        slots[i].refs -= 1
        if slots[i].refs == 0 { freeSlot(i) }
    }

    private func freeSlot(_ i: Int) {
        slots[i].event = Event(.null)
        slots[i].refs = -1
        if slots[i].hasCEL {
            slotCEL[i] = nil
            slots[i].hasCEL = false
        }
        freeSlots.append(Int32(i))
        liveSlots -= 1
    }

    /// The event in `slot`, where it is (valid while the slot is held).
    @inline(__always)
    func eventPointer(_ slot: Int32) -> UnsafePointer<Event> {
        (UnsafeRawPointer(slots.base + Int(slot)) + eventOffset).assumingMemoryBound(to: Event.self)
    }

    /// Where `event` lies in a `Slot` (a stored property, so the offset exists).
    private let eventOffset = MemoryLayout<Slot>.offset(of: \Slot.event) ?? 0

    /// A new node for `slot` taken by `step` after `prev` (-1: first), held once.
    @inline(__always)
    func addNode(slot: Int32, step: Int, prev: Int32) -> Int32 {
        slots[Int(slot)].refs += 1
        if prev >= 0 { nodes[Int(prev)].refs += 1 }
        liveNodes += 1
        let node = Node(slot: slot, step: Int32(step), prev: prev, refs: 1)
        if freeNodes.count > 0 {
            let n = freeNodes.removeLast()
            nodes[Int(n)] = node
            return n
        }
        return Int32(nodes.append(node))
    }

    /// One more holder of `node`.
    @inline(__always)
    func retain(_ node: Int32) {
        if node >= 0 { nodes[Int(node)].refs += 1 }
    }

    /// One holder fewer; frees the node, its slot and its predecessors as they become
    /// unheld. Inlined up to the usual case, a node still held by another.
    @inline(__always)
    func release(_ node: Int32) {
        guard node >= 0 else { return }
        let i = Int(node)
        if nodes[i].refs > 1 {
            nodes[i].refs -= 1
            return
        }
        releaseFreeing(node)
    }

    /// ``release(_:)`` of a node held once: frees it, and its slot and predecessors as
    /// they become unheld.
    @inline(never)
    private func releaseFreeing(_ node: Int32) {
        var n = node
        while n >= 0 {
            let i = Int(n)
            nodes[i].refs -= 1
            if nodes[i].refs > 0 { return }
            let slot = Int(nodes[i].slot)
            slots[slot].refs -= 1
            if slots[slot].refs == 0 { freeSlot(slot) }
            let prev = nodes[i].prev
            freeNodes.append(n)
            liveNodes -= 1
            n = prev
        }
    }

    /// The event of a node's slot.
    @inline(__always)
    func event(ofNode node: Int32) -> Event { slots[Int(nodes[Int(node)].slot)].event }

    /// The event of a node's slot, where it is (valid while the node is held).
    @inline(__always)
    func eventPointer(ofNode node: Int32) -> UnsafePointer<Event> { eventPointer(nodes[Int(node)].slot) }

    /// The value of a node's event, read where it is (only the value is copied).
    @inline(never)
    func value(ofNode node: Int32) -> JSON {
        let e = eventPointer(ofNode: node)
        if let o = e.pointee.parsedObject { return .object(o) }
        return e.pointee.value
    }

    /// The per-key sequence number of a node's event.
    @inline(__always)
    func seq(ofNode node: Int32) -> Int64 { slots[Int(nodes[Int(node)].slot)].seq }

    /// The per-key sequence number of the event in `slot`.
    @inline(__always)
    func seq(ofSlot slot: Int32) -> Int64 { slots[Int(slot)].seq }

    /// The slot of a node's event.
    @inline(__always)
    func slot(ofNode node: Int32) -> Int32 { nodes[Int(node)].slot }

    /// The step that took a node's event.
    @inline(__always)
    func step(ofNode node: Int32) -> Int { Int(nodes[Int(node)].step) }

    /// The node before `node` on its path (-1: none).
    @inline(__always)
    func prev(ofNode node: Int32) -> Int32 { nodes[Int(node)].prev }

    /// The event of a node as a CEL value, converted once per slot.
    func celValue(ofNode node: Int32) -> CELValue {
        let s = Int(nodes[Int(node)].slot)
        if slots[s].hasCEL, let v = slotCEL[s] { return v }
        let v = CELValue(json: slots[s].event.value)
        if slotCEL.count <= s { slotCEL.append(contentsOf: repeatElement(nil, count: s + 1 - slotCEL.count)) }
        slotCEL[s] = v
        slots[s].hasCEL = true
        return v
    }

    /// The path ending at `node`, first event first: (step, node) pairs.
    func path(_ node: Int32, into out: inout [(step: Int, node: Int32)]) {
        out.removeAll(keepingCapacity: true)
        var n = node
        while n >= 0 {
            out.append((Int(nodes[Int(n)].step), n))
            n = nodes[Int(n)].prev
        }
        out.reverse()
    }
}
