/// A partial match: where it is in the NFA and the last event it took (Flink's
/// `ComputationState`).
struct PartialMatch {
    /// The state (positive step) it is in; the number of states when every step is done
    /// and only trailing `not`s are pending.
    var step: Int32
    /// Events taken in `step` so far.
    var count: Int32
    /// The step of the last event taken.
    var lastStep: Int32
    /// Its last node in the shared buffer.
    var node: Int32
    /// The next partial match of its key in the runner's pool (-1: the last).
    var link: Int32 = -1
    /// Whether it may move on to the next step without taking an event first (false
    /// after ignoring an event, as Flink's separate "ignore" states).
    var canProceed: Bool
    /// Time and per-key sequence number of its first event.
    var startTime: Int64
    var startSeq: Int64
    /// Per-key sequence number of its last event.
    var lastSeq: Int64
}

/// A complete match waiting to be emitted: its last node in the shared buffer (held
/// until it is emitted), where it starts and ends in its key's events, and the time of
/// the output event.
struct CompletedMatch {
    var node: Int32
    var startSeq: Int64
    var lastSeq: Int64
    var time: Int64
}

/// Per-key matcher state: separate from the immutable NFA, as in Flink's `NFAState`.
/// The key's oldest partial match is held here and the others in the runner's pool, so a
/// key with at most one partial match (the usual case) is one cache line (64 bytes, no
/// reference of its own).
struct KeyState {
    /// The key's oldest partial match, when `first.step >= 0`; the others follow from
    /// `first.link` in ``NFARunner/pool``, oldest first.
    var first = PartialMatch(
        step: -1, count: 0, lastStep: -1, node: -1, canProceed: false, startTime: 0, startSeq: 0, lastSeq: 0)
    /// Whether the key has partial matches.
    var hasPartialMatches: Bool { first.step >= 0 }
    /// Sequence number of the last event of this key.
    var seq: Int64 = 0
    /// The deadline the operator has this key scheduled at in its deadline queue
    /// (`Int64.max`: none). The operator's, kept here to stay on the key's cache line.
    var scheduled = Int64.max
}
