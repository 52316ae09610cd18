import SluiceCore

/// An event waiting in the pattern step's ``EventTimeQueue`` for the watermark, released in
/// event-time order, equal times in arrival order (a stable sort, as Flink CEP's buffer by
/// timestamp).
///
/// It names the event's slot in the step's ``SharedBuffer`` instead of holding the event,
/// so queueing and reordering moves a few integers and never retains or releases one.
struct QueuedEvent: EventTimeOrdered {
    var time: Int64
    /// The step's arrival number (the tiebreak at equal times).
    var arrival: Int64
    var key: Int32
    /// The event's slot in the step's ``SharedBuffer`` (held by the queue until the
    /// entry is popped), or -1 when the event was not stored.
    var slot: Int32
    /// The conditions the event satisfies, one bit per condition evaluated on arrival
    /// (see ``PatternStep``).
    var mask: UInt64
    /// The conditions evaluated on arrival (the others are evaluated when matched).
    var known: UInt64

    @inline(__always)
    func before(_ o: QueuedEvent) -> Bool { time < o.time || (time == o.time && arrival < o.arrival) }
}

/// When a key's earliest partial match expires, in the pattern step's deadline queue.
///
/// Equal deadlines pop in scheduling order (`seq`), so keys whose windows close at the
/// same time time out in a fixed order whatever the queue's layout.
struct Deadline: EventTimeOrdered {
    var time: Int64
    /// The step's scheduling number (the tiebreak at equal deadlines).
    var seq: Int64
    var key: Int32

    @inline(__always)
    func before(_ o: Deadline) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
}
