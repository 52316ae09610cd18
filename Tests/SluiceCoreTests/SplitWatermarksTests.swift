import SluiceCore
import Testing

/// Per-split event time merged by minimum, with idle splits left out (a Kafka input's
/// partitions); the clock is passed in, so idleness is exact here.
@Suite struct SplitWatermarksTests {
    @Test func theMergedTimeIsTheLeastOverTheAssignedSplits() {
        var w = SplitWatermarks(idleTimeout: nil)
        w.assign([0, 1], now: 0)
        // Split 1 has no event yet: it may still hold older ones, so nothing is merged.
        #expect(w.observe(0, time: 5_000, now: 10) == Int64.min)
        #expect(w.observe(0, time: 9_000, now: 20) == Int64.min)
        #expect(w.observe(1, time: 3_000, now: 30) == 3_000)
        #expect(w.observe(1, time: 7_000, now: 40) == 7_000)
        #expect(w.observe(1, time: 12_000, now: 50) == 9_000)
        // A split's own time never goes back: an older event on it changes nothing.
        #expect(w.observe(0, time: 1_000, now: 60) == 9_000)
        #expect(w.observe(0, time: 20_000, now: 70) == 12_000)
    }

    @Test func withoutATimeoutASilentSplitHoldsTimeBackForever() {
        var w = SplitWatermarks(idleTimeout: nil)
        w.assign([0, 1], now: 0)
        w.observe(0, time: 60_000, now: 1)
        #expect(w.recompute(now: 1_000_000_000) == Int64.min)
    }

    @Test func aSplitSilentForTheTimeoutIsLeftOutUntilItHasAnEventAgain() {
        var w = SplitWatermarks(idleTimeout: 1_000)
        w.assign([0, 1], now: 0)
        #expect(w.observe(0, time: 60_000, now: 500) == Int64.min)
        // Split 1 was assigned at 0 and has been silent since: idle from 1000 on.
        #expect(w.recompute(now: 999) == Int64.min)
        #expect(w.recompute(now: 1_000) == 60_000)
        // Split 0 went silent at 500: at 1500 both are idle and nothing is merged.
        #expect(w.recompute(now: 1_500) == nil)
        #expect(w.observe(0, time: 61_000, now: 1_600) == 61_000)
        // Split 1 comes back with older events: it holds time again (the watermark the
        // source sent does not go back; those events are late).
        #expect(w.observe(1, time: 30_000, now: 1_700) == 30_000)
        #expect(w.observe(1, time: 70_000, now: 1_800) == 61_000)
    }

    @Test func aRevokedSplitNoLongerCountsAndAReassignedOneKeepsItsTime() {
        var w = SplitWatermarks(idleTimeout: nil)
        w.assign([0, 1], now: 0)
        w.observe(0, time: 10_000, now: 1)
        w.observe(1, time: 4_000, now: 2)
        #expect(w.merged == 4_000)
        w.revoke([1], now: 3)
        #expect(w.merged == 10_000)
        w.revoke([0], now: 4)
        #expect(w.merged == nil)
        w.assign([1], now: 5)
        #expect(w.merged == 4_000)
        // A split never assigned but seen in an event counts from that event.
        #expect(w.observe(7, time: 2_000, now: 6) == 2_000)
    }
}
