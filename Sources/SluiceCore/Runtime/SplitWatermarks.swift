/// Event time per split of a partitioned source (a Kafka input's partitions), merged by
/// minimum, as Flink does per split with `withIdleness` (docs/kafka.md, "Event time and
/// watermarks").
///
/// ```
///  split 0: max time 12:05   ─┐
///  split 1: max time 12:02   ─┼─ min over the active splits = 12:02 ─ lateness ─▶ watermark
///  split 2: silent > idle    ─┘  (idle: left out until it has an event again)
/// ```
///
/// A split counts from when it is assigned: until it has an event it holds the merged
/// time back (it may hold older events), unless an idle timeout is set and it stayed
/// silent that long. With every split idle, or none assigned, there is no merged time
/// and the watermark stays where it is. Times are in epoch milliseconds; `now` is a
/// monotonic clock reading in milliseconds, passed in so that tests control it.
package struct SplitWatermarks: Sendable {
    struct Split: Sendable {
        /// The greatest event time seen on the split (`Int64.min`: none yet).
        var maxTime = Int64.min
        /// When the split last had an event, or was assigned.
        var lastActive: Int64
        var assigned = true
    }

    /// A split silent for this long (ms) is left out of the minimum; nil: never.
    package let idleTimeout: Int64?
    var splits: [Int: Split] = [:]
    /// The minimum as of the last ``recompute(now:)`` or change (nil: no active split).
    package private(set) var merged: Int64?

    package init(idleTimeout: Int64?) {
        self.idleTimeout = idleTimeout
    }

    /// True when `split` is assigned and has not been silent for the idle timeout.
    func active(_ s: Split, now: Int64) -> Bool {
        guard s.assigned else { return false }
        guard let idleTimeout else { return true }
        return now &- s.lastActive < idleTimeout
    }

    /// Counts `ids` as assigned from `now` (a split seen before keeps its greatest time).
    package mutating func assign(_ ids: some Sequence<Int>, now: Int64) {
        for id in ids {
            if var s = splits[id] {
                s.assigned = true
                s.lastActive = now
                splits[id] = s
            } else {
                splits[id] = Split(lastActive: now)
            }
        }
        recompute(now: now)
    }

    /// Leaves `ids` out of the minimum (they are read elsewhere now).
    package mutating func revoke(_ ids: some Sequence<Int>, now: Int64) {
        for id in ids { splits[id]?.assigned = false }
        recompute(now: now)
    }

    /// The minimum greatest time over the splits active at `now`.
    @discardableResult
    package mutating func recompute(now: Int64) -> Int64? {
        var least: Int64?
        for s in splits.values where active(s, now: now) {
            least = min(least ?? Int64.max, s.maxTime)
        }
        merged = least
        return least
    }

    /// An event of time `time` on split `id` at `now` (a split not assigned before is
    /// assigned by it); returns the merged time after it.
    @discardableResult
    package mutating func observe(_ id: Int, time: Int64, now: Int64) -> Int64? {
        guard var s = splits[id] else {
            splits[id] = Split(maxTime: time, lastActive: now)
            return recompute(now: now)
        }
        // Only a split that was at the minimum, or left out of it, changes the minimum.
        let wasActive = active(s, now: now)
        let old = s.maxTime
        s.maxTime = max(old, time)
        s.lastActive = now
        s.assigned = true
        splits[id] = s
        if !wasActive || merged == nil || old == merged {
            return recompute(now: now)
        }
        return merged
    }
}
