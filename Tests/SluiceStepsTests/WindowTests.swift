import Foundation
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

@testable import SluiceSteps

@Suite struct WindowTests {
    func harness(_ yaml: String) throws -> StepHarness { StepHarness(try makeWindow(yaml)) }

    func text(_ values: [JSON]) -> [String] { values.map { JSONWriter.string($0) } }

    // MARK: Output shape and order

    @Test func tumblingOutputHasKeyThenBoundsThenAggregatesInOrder() throws {
        let h = try harness(
            "window: { key: user, tumbling: 1m, aggregate: { n: count(), total: sum(amount), top: max(amount) } }")
        h.send(["user": "u1", "amount": 5], time: 1_700_000_040_000)
        h.send(["user": "u1", "amount": 7.5], time: 1_700_000_041_000)
        h.send(["user": "u2", "amount": 1], time: 1_700_000_050_000)
        h.advance(to: 1_700_000_099_998)
        #expect(h.take().isEmpty)
        h.advance(to: 1_700_000_099_999)
        #expect(
            text(h.take()) == [
                #"{"user":"u1","window_start":1700000040000,"window_end":1700000100000,"n":2,"total":12.5,"top":7.5}"#,
                #"{"user":"u2","window_start":1700000040000,"window_end":1700000100000,"n":1,"total":1,"top":1}"#,
            ])
        #expect(h.emitted.isEmpty)
    }

    @Test func resultsCarryTheLastInstantOfTheirWindowAsTime() throws {
        let step = try makeWindow("window: { tumbling: 10ms, aggregate: { n: count() } }")
        var out = StepOutput()
        step.process(Event(["a": 1], time: 3), into: &out)
        step.advance(watermark: .max, into: &out)
        #expect(out.events.map(\.time) == [9])
    }

    @Test func windowsClosedTogetherAreOrderedByEndThenStartThenKeyFirstSeen() throws {
        let h = try harness("window: { key: k, hopping: { size: 20ms, every: 10ms }, aggregate: { n: count() } }")
        h.send(["k": "b"], time: 15)
        h.send(["k": "a"], time: 12)
        h.send(["k": "a"], time: 25)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"k":"b","window_start":0,"window_end":20,"n":1}"#,
                #"{"k":"a","window_start":0,"window_end":20,"n":1}"#,
                #"{"k":"b","window_start":10,"window_end":30,"n":1}"#,
                #"{"k":"a","window_start":10,"window_end":30,"n":2}"#,
                #"{"k":"a","window_start":20,"window_end":40,"n":1}"#,
            ])
    }

    @Test func anEventAtWindowEndBelongsToTheNextWindow() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { ids: collect(id) } }")
        h.send(["id": 1], time: 0)
        h.send(["id": 2], time: 9)
        h.send(["id": 3], time: 10)
        h.send(["id": 4], time: -1)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"window_start":-10,"window_end":0,"ids":[4]}"#,
                #"{"window_start":0,"window_end":10,"ids":[1,2]}"#,
                #"{"window_start":10,"window_end":20,"ids":[3]}"#,
            ])
    }

    @Test func emptyWindowsEmitNothing() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, aggregate: { n: count() } }")
        h.send(["k": "a"], time: 5)
        h.advance(to: 100)
        h.send(["k": "a"], time: 105)
        h.advance(to: 1000)
        #expect(
            text(h.take()) == [
                #"{"k":"a","window_start":0,"window_end":10,"n":1}"#,
                #"{"k":"a","window_start":100,"window_end":110,"n":1}"#,
            ])
        h.advance(to: .max)
        #expect(h.take().isEmpty)
    }

    @Test func tumblingOffsetShiftsTheAlignment() throws {
        let h = try harness("window: { tumbling: { size: 1m, offset: 15s }, aggregate: { n: count() } }")
        h.send(["x": 1], time: 10_000)
        h.send(["x": 1], time: 20_000)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"window_start":-45000,"window_end":15000,"n":1}"#,
                #"{"window_start":15000,"window_end":75000,"n":1}"#,
            ])
    }

    @Test func keysCanBeExpressionsOrMapsOfExpressions() throws {
        let h1 = try harness("window: { key: 'user + \"-\" + region', tumbling: 10ms, aggregate: { n: count() } }")
        h1.send(["user": "u", "region": "eu"], time: 1)
        h1.advance(to: .max)
        #expect(text(h1.take()) == [#"{"key":"u-eu","window_start":0,"window_end":10,"n":1}"#])

        let h2 = try harness(
            "window: { key: { who: user, big: amount > 10 }, tumbling: 10ms, aggregate: { n: count() } }")
        h2.send(["user": "u", "amount": 50], time: 1)
        h2.send(["user": "u", "amount": 5], time: 2)
        h2.send(["user": "u", "amount": 60], time: 3)
        h2.advance(to: .max)
        #expect(
            text(h2.take()) == [
                #"{"who":"u","big":true,"window_start":0,"window_end":10,"n":2}"#,
                #"{"who":"u","big":false,"window_start":0,"window_end":10,"n":1}"#,
            ])
    }

    @Test func aMissingKeyFieldRejectsTheEvent() throws {
        let h = try harness("window: { key: user, tumbling: 10ms, aggregate: { n: count() } }")
        h.send(["amount": 1], time: 1)
        let r = h.sides[SidePort.rejected] ?? []
        #expect(r.count == 1)
        #expect(r.first?.value["error"]?["message"] == "window: key 'user': no such field 'user'")
        #expect(r.first?.value["event"] == ["amount": 1])
    }

    // MARK: Aggregates

    @Test func everyAggregate() throws {
        let h = try harness(
            """
            window:
              tumbling: 1s
              aggregate:
                n: count()
                nv: count(v)
                total: sum(v)
                mean: avg(v)
                lo: min(v)
                hi: max(v)
                f: first(id)
                l: last(id)
                users: count_distinct(user)
                p50: percentile(v, 0.5)
                sd: stddev(v)
                ids: collect(id)
                names: collect(user)
            """)
        h.send(["id": 1, "user": "a", "v": 2], time: 30)
        h.send(["id": 2, "user": "b", "v": 4], time: 10)
        h.send(["id": 3, "user": "a", "v": nil], time: 20)
        h.send(["id": 4, "user": "c", "v": 4], time: 40)
        h.send(["id": 5, "user": "a", "v": 5], time: 50)
        h.send(["id": 6, "user": "a", "v": 7], time: 60)
        h.advance(to: .max)
        let r = h.take()
        #expect(r.count == 1)
        let o = r.first ?? .null
        #expect(o["n"] == 6)
        #expect(o["nv"] == 5)
        #expect(o["total"] == 22)
        #expect(o["mean"] == 4.4)
        #expect(o["lo"] == 2)
        #expect(o["hi"] == 7)
        #expect(o["f"] == 2)  // earliest event time
        #expect(o["l"] == 6)
        #expect(o["users"] == 3)
        #expect(o["p50"] == 4.0)
        #expect(abs((o["sd"]?.numberValue ?? 0) - 1.6248076809271921) < 1e-12)
        #expect(o["ids"] == [2, 3, 1, 4, 5, 6])
        #expect(o["names"] == ["b", "a", "a", "c", "a", "a"])
    }

    @Test func integerSumsStayIntegersAndMixedSumsBecomeDoubles() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, aggregate: { s: sum(v) } }")
        h.send(["k": 1, "v": 9_007_199_254_740_993], time: 1)
        h.send(["k": 1, "v": 1], time: 2)
        h.send(["k": 2, "v": 1], time: 3)
        h.send(["k": 2, "v": 0.5], time: 4)
        h.advance(to: .max)
        let r = h.take()
        #expect(r.map { $0["s"] } == [.int(9_007_199_254_740_994), .double(1.5)])
    }

    @Test func integerOverflowRejectsThatWindowOnly() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, aggregate: { n: count(), s: sum(v) } }")
        h.send(["k": "a", "v": .int(Int64.max)], time: 1)
        h.send(["k": "a", "v": 1], time: 2)
        h.send(["k": "b", "v": 1], time: 3)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"k":"b","window_start":0,"window_end":10,"n":1,"s":1}"#])
        let r = h.sides[SidePort.rejected] ?? []
        #expect(r.count == 1)
        #expect(
            r.first?.value["error"]?["message"]
                == "window: s (sum(v)): integer overflow; the window's result is rejected")
        #expect(
            JSONWriter.string(r.first?.value["event"] ?? .null)
                == #"{"k":"a","window_start":0,"window_end":10,"n":2,"s":null}"#)
    }

    @Test func aNonNumberRejectsTheEventAndTheWindowGoesOn() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { n: count(), s: sum(amount) } }")
        h.send(["amount": 2], time: 1)
        h.send(["amount": "lots"], time: 2)
        h.send(["amount": 3], time: 3)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"window_start":0,"window_end":10,"n":2,"s":5}"#])
        let r = h.sides[SidePort.rejected] ?? []
        #expect(r.count == 1)
        #expect(r.first?.value["error"]?["step"] == "window")
        #expect(r.first?.value["error"]?["message"] == "window: sum(amount): expected a number, got string")
        #expect(r.first?.value["event"] == ["amount": "lots"])
    }

    @Test func anExpressionArgumentErrorRejectsTheEvent() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { s: sum(price * qty) } }")
        h.send(["price": 2, "qty": 3], time: 1)
        h.send(["price": 2], time: 2)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"window_start":0,"window_end":10,"s":6}"#])
        #expect(h.sides[SidePort.rejected]?.count == 1)
    }

    @Test func havingFiltersResults() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, aggregate: { n: count() }, having: n >= 2 }")
        h.send(["k": "a"], time: 1)
        h.send(["k": "b"], time: 1)
        h.send(["k": "a"], time: 2)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"k":"a","window_start":0,"window_end":10,"n":2}"#])
    }

    @Test func minAndMaxOrderStringsAndMixedValuesAsJq() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { lo: min(x), hi: max(x) } }")
        for (i, x) in [JSON("pear"), "apple", 3, true].enumerated() { h.send(["x": x], time: Int64(i)) }
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"window_start":0,"window_end":10,"lo":true,"hi":"pear"}"#])
    }

    @Test func minAndMaxKeepDoublesUntilAnotherKindOfValueArrives() throws {
        // Doubles are kept in the accumulator itself; an int or a string moves the value
        // so far out to the general path, and every order still follows jq's.
        let h = try harness("window: { key: k, tumbling: 10ms, aggregate: { lo: min(x), hi: max(x), n: count(x) } }")
        for (i, x) in [JSON(2.5), 7.25, -1.5].enumerated() { h.send(["k": "d", "x": x], time: Int64(i)) }
        for (i, x) in [JSON(2.5), 9, 1.5, 4].enumerated() { h.send(["k": "i", "x": x], time: Int64(i)) }
        for (i, x) in [JSON(2.5), "b", 0.5, .null].enumerated() { h.send(["k": "s", "x": x], time: Int64(i)) }
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"k":"d","window_start":0,"window_end":10,"lo":-1.5,"hi":7.25,"n":3}"#,
                #"{"k":"i","window_start":0,"window_end":10,"lo":1.5,"hi":9,"n":4}"#,
                #"{"k":"s","window_start":0,"window_end":10,"lo":0.5,"hi":"b","n":3}"#,
            ])
    }

    @Test func mergedSessionsCombineMinAndMaxOfEveryKind() throws {
        // Two sessions bridged by a late event: one holds doubles, the other an int and a
        // string, so the merge meets both representations.
        let h = try harness("window: { session: { gap: 10ms }, aggregate: { lo: min(x), hi: max(x), n: count() } }")
        h.send(["x": 2.5], time: 0)
        h.send(["x": 0.25], time: 5)
        h.send(["x": 3], time: 20)
        h.send(["x": "z"], time: 22)
        h.send(["x": 1.0], time: 12)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"window_start":0,"window_end":32,"lo":0.25,"hi":"z","n":5}"#])
    }

    // MARK: Lateness

    @Test func lateEventsWithinAllowedLatenessReFireWithUpdate() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, allowed_lateness: 5ms, aggregate: { n: count() } }")
        h.send(["k": "a"], time: 3)
        h.advance(to: 9)
        #expect(text(h.take()) == [#"{"k":"a","window_start":0,"window_end":10,"n":1}"#])
        h.send(["k": "a"], time: 4)  // late, within lateness: immediate update
        #expect(text(h.take()) == [#"{"k":"a","window_start":0,"window_end":10,"n":2,"update":true}"#])
        h.send(["k": "b"], time: 5)  // a new key's window that is already due fires at once
        #expect(text(h.take()) == [#"{"k":"b","window_start":0,"window_end":10,"n":1}"#])
        h.advance(to: 14)  // 9 + 5: the window is gone
        h.send(["k": "a"], time: 6)
        #expect(h.take().isEmpty)
        #expect(h.sides[SidePort.late]?.map(\.value) == [["k": "a"]])
        #expect(h.step.stateSize == 0)
    }

    @Test func withoutLatenessAnEventBehindAClosedWindowIsLate() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { n: count() } }")
        h.send(["id": 1], time: 1)
        h.advance(to: 9)
        h.send(["id": 2], time: 9)
        h.send(["id": 3], time: 10)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"window_start":0,"window_end":10,"n":1}"#, #"{"window_start":10,"window_end":20,"n":1}"#,
            ])
        #expect(h.sides[SidePort.late]?.map(\.value) == [["id": 2]])
    }

    @Test func aHoppingEventIsCountedInTheWindowsStillOpen() throws {
        let h = try harness("window: { hopping: { size: 20ms, every: 10ms }, aggregate: { ids: collect(id) } }")
        h.send(["id": 1], time: 15)
        h.advance(to: 19)  // closes [0,20)
        h.send(["id": 2], time: 12)  // [0,20) is gone, [10,30) is open
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"window_start":0,"window_end":20,"ids":[1]}"#,
                #"{"window_start":10,"window_end":30,"ids":[2,1]}"#,
            ])
        #expect(h.sides[SidePort.late] == nil)
    }

    // MARK: Sessions

    @Test func sessionsCloseAfterTheGap() throws {
        let h = try harness("window: { key: u, session: { gap: 10ms }, aggregate: { n: count() } }")
        h.send(["u": "a"], time: 0)
        h.send(["u": "a"], time: 5)
        h.send(["u": "a"], time: 16)  // more than gap after the last: a new session
        h.advance(to: 14)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":15,"n":2}"#])
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"u":"a","window_start":16,"window_end":26,"n":1}"#])
    }

    /// Issue 14 item 4: sessions that touch merge, as in Flink (`TimeWindow.intersects`)
    /// and Kafka Streams: an event exactly `gap` after the last one is in the same session,
    /// in order, out of order, and when it bridges two sessions.
    @Test func eventsExactlyAGapApartAreOneSession() throws {
        let h = try harness("window: { key: u, session: { gap: 10ms }, aggregate: { n: count(), ids: collect(id) } }")
        h.send(["u": "a", "id": 1], time: 0)
        h.send(["u": "a", "id": 2], time: 10)  // touches [0,10): extends it to [0,20)
        h.send(["u": "b", "id": 3], time: 30)
        h.send(["u": "b", "id": 4], time: 10)  // [10,20) and [30,40) do not touch
        h.send(["u": "b", "id": 5], time: 20)  // [20,30) touches both: one session [10,40)
        h.advance(to: 18)  // [0,10) alone would have fired at 9
        #expect(h.take().isEmpty)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"u":"a","window_start":0,"window_end":20,"n":2,"ids":[1,2]}"#,
                #"{"u":"b","window_start":10,"window_end":40,"n":3,"ids":[4,5,3]}"#,
            ])
    }

    /// A session fires when the watermark reaches `window_end - 1`, as in Flink; an event
    /// at exactly `window_end` that arrives after that (not late: it is above the
    /// watermark) starts a new session, as it does in Flink, where the fired window is gone.
    @Test func anEventAtTheEndOfAFiredSessionStartsANewOne() throws {
        let h = try harness("window: { key: u, session: { gap: 10ms }, aggregate: { n: count() } }")
        h.send(["u": "a"], time: 0)
        h.advance(to: 9)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":10,"n":1}"#])
        h.send(["u": "a"], time: 10)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"u":"a","window_start":10,"window_end":20,"n":1}"#])
        #expect(h.sides[SidePort.late] == nil)
    }

    /// With `allowed_lateness`, the fired session is still held, so the touching event
    /// extends it and it fires again as an update when the extended session closes.
    @Test func anEventAtTheEndOfAFiredSessionExtendsItWithinAllowedLateness() throws {
        let h = try harness(
            "window: { key: u, session: { gap: 10ms }, allowed_lateness: 5ms, aggregate: { n: count() } }")
        h.send(["u": "a"], time: 0)
        h.advance(to: 9)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":10,"n":1}"#])
        h.send(["u": "a"], time: 10)
        #expect(h.take().isEmpty)
        h.advance(to: 19)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":20,"n":2,"update":true}"#])
    }

    @Test func anOutOfOrderEventBridgingTwoSessionsMergesThem() throws {
        let h = try harness(
            "window: { key: u, session: 10ms, aggregate: { n: count(), ids: collect(id), f: first(id), l: last(id) } }")
        h.send(["u": "a", "id": 1], time: 0)
        h.send(["u": "a", "id": 2], time: 30)
        h.send(["u": "b", "id": 9], time: 12)
        h.send(["u": "a", "id": 3], time: 15)  // touches neither: [15,25)
        h.send(["u": "a", "id": 4], time: 8)  // bridges [0,10) and [15,25) ...
        h.send(["u": "a", "id": 5], time: 24)  // ... and this one bridges to [30,40)
        #expect(h.step.stateSize == 2)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"u":"b","window_start":12,"window_end":22,"n":1,"ids":[9],"f":9,"l":9}"#,
                #"{"u":"a","window_start":0,"window_end":40,"n":5,"ids":[1,4,3,5,2],"f":1,"l":2}"#,
            ])
    }

    @Test func aLateEventMergingIntoAFiredSessionReFiresItAsAnUpdate() throws {
        let h = try harness("window: { key: u, session: 10ms, allowed_lateness: 100ms, aggregate: { n: count() } }")
        h.send(["u": "a"], time: 0)
        h.send(["u": "a"], time: 25)
        h.advance(to: 20)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":10,"n":1}"#])
        h.send(["u": "a"], time: 9)  // extends the fired session to [0,19): due, so an update at once
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":19,"n":2,"update":true}"#])
        h.send(["u": "a"], time: 17)  // bridges to the open session [25,35): the merge is open again
        #expect(h.take().isEmpty)
        h.advance(to: 34)
        #expect(text(h.take()) == [#"{"u":"a","window_start":0,"window_end":35,"n":4,"update":true}"#])
        h.advance(to: .max)
        #expect(h.take().isEmpty)
        #expect(h.step.stateSize == 0)
    }

    // MARK: Count windows

    @Test func countWindowsFireEverySizeEventsAndFlushThePartialOneAtTheEnd() throws {
        let h = try harness("window: { key: k, count: 2, aggregate: { ids: collect(id) } }")
        h.send(["k": "a", "id": 1], time: 50)
        h.send(["k": "b", "id": 2], time: 20)
        h.send(["k": "a", "id": 3], time: 10)
        #expect(text(h.take()) == [#"{"k":"a","window_start":10,"window_end":50,"ids":[3,1]}"#])
        h.send(["k": "a", "id": 4], time: 60)
        h.advance(to: 1000)
        #expect(h.take().isEmpty)
        h.advance(to: .max)
        #expect(
            text(h.take()) == [
                #"{"k":"b","window_start":20,"window_end":20,"ids":[2]}"#,
                #"{"k":"a","window_start":60,"window_end":60,"ids":[4]}"#,
            ])
    }

    @Test func slidingCountWindows() throws {
        let h = try harness("window: { count: { size: 3, every: 1 }, aggregate: { ids: collect(id) } }")
        for i in 1...4 { h.send(["id": .int(Int64(i))], time: Int64(i)) }
        #expect(h.take().map { $0["ids"] } == [[1, 2, 3], [2, 3, 4]])
        h.advance(to: .max)
        #expect(h.take().map { $0["ids"] } == [[3, 4], [4]])
    }

    // MARK: Bounds

    @Test func maxOpenWindowsRejectsInsteadOfGrowing() throws {
        let h = try harness("window: { key: k, tumbling: 10ms, max_open_windows: 2, aggregate: { n: count() } }")
        h.send(["k": "a"], time: 1)
        h.send(["k": "b"], time: 1)
        h.send(["k": "c"], time: 1)
        h.send(["k": "a"], time: 2)  // an existing window still counts
        #expect(h.step.stateSize == 2)
        let r = h.sides[SidePort.rejected] ?? []
        #expect(r.count == 1)
        #expect(r.first?.value["error"]?["message"] == "window: max_open_windows (2) reached; event not counted")
        #expect(r.first?.value["event"] == ["k": "c"])
        h.advance(to: 9)
        h.send(["k": "c"], time: 11)  // room again once windows close
        h.advance(to: .max)
        #expect(h.take().map { $0["n"] } == [2, 1, 1])
    }

    @Test func eventsWithoutTimeAreRejectedByTimeWindows() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { n: count() } }")
        h.send(["a": 1])
        #expect(h.sides[SidePort.rejected]?.first?.value["error"]?["message"] == "window: the event has no time")
    }

    @Test func processingTimeNeedsNoSpecialCase() throws {
        // Without `time:` the runtime stamps arrival time and advances the watermark on a
        // timer; to the step that is the same as event time.
        let h = try harness("window: { tumbling: 1s, aggregate: { n: count() } }")
        let now: Int64 = 1_700_000_000_500
        h.send(["a": 1], time: now)
        h.send(["a": 2], time: now + 100)
        h.advance(to: now + 499)
        #expect(h.take().map { $0["n"] } == [2])
    }

    @Test func theWhenWrapperPassesWatermarksThrough() throws {
        let h = try harness("window: { tumbling: 10ms, aggregate: { n: count() } }\nwhen: x > 1")
        h.send(["x": 5], time: 1)
        h.send(["x": 0], time: 1)
        h.advance(to: .max)
        #expect(text(h.take()) == [#"{"x":0}"#, #"{"window_start":0,"window_end":10,"n":1}"#])
    }
}

/// The diagrams in docs/windows.md show what the step really emits (issue 14, item 10).
@Suite struct WindowDocsDiagramTests {
    static func docsBlock(_ firstLine: String) throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/windows.md"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(
            lines.firstIndex(of: firstLine), "docs/windows.md has no block starting '\(firstLine)'")
        let end = try #require(lines[start...].firstIndex(of: "```"))
        return Array(lines[start..<end])
    }

    /// Seconds in "2s" / "-5s".
    static func seconds(_ s: Substring) -> Int64? { Int64(s.trimmingCharacters(in: .whitespaces).dropLast()) }

    @Test func theHoppingDiagramListsEveryWindowTheStepEmits() throws {
        let block = try Self.docsBlock("hopping: {size: 10s, every: 5s}")
        // "events ... a at 2s, b at 8s, c at 14s"
        let eventsLine = try #require(block.first { $0.hasPrefix("events") })
        let annotation = try #require(eventsLine.range(of: "a at ")).lowerBound
        var events: [(name: String, time: Int64)] = []
        for part in eventsLine[annotation...].split(separator: ",") {
            let words = part.split(separator: " ")
            try #require(words.count == 3 && words[1] == "at")
            events.append((String(words[0]), try #require(Self.seconds(words[2])) * 1000))
        }
        // "wN = [As,Bs):  x y"
        var documented: [String] = []
        for line in block {
            guard let eq = line.range(of: " = ["),
                let close = line.range(of: "):", range: eq.upperBound..<line.endIndex)
            else { continue }
            let bounds = line[eq.upperBound..<close.lowerBound].split(separator: ",")
            let members = line[close.upperBound...].split(separator: " ").joined(separator: " ")
            let start = try #require(Self.seconds(bounds[0])) * 1000
            let end = try #require(Self.seconds(bounds[1])) * 1000
            documented.append("[\(start),\(end)) \(members)")
        }
        let h = StepHarness(
            try makeWindow("window: { hopping: {size: 10s, every: 5s}, aggregate: { ids: collect(id) } }"))
        for e in events { h.send(["id": .string(e.name)], time: e.time) }
        h.advance(to: .max)
        let emitted = h.take().map { o -> String in
            let ids = (o["ids"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
            return
                "[\(JSONWriter.string(o["window_start"] ?? .null)),\(JSONWriter.string(o["window_end"] ?? .null))) \(ids)"
        }
        #expect(events.count == 3)
        #expect(documented == emitted)
    }
}

/// `max_open_windows` at `parallelism: N` (issue 14, item 13): the cap applies to each
/// parallel copy of the step, as docs/windows.md says, so raising the parallelism never
/// rejects an event that one copy would have counted.
@Suite struct WindowParallelCapTests {
    static func yaml(parallelism: Int) -> String {
        """
        inputs: { in: { stdin: {} } }
        time: { field: ts }
        streams:
          work:
            from: in
            key: user
            parallelism: \(parallelism)
            steps:
              - window: { key: user, tumbling: 1m, max_open_windows: 10, aggregate: { n: count() } }
        outputs:
          out: { from: [work], stdout: {} }
          rejected: { from: [work.rejected], stdout: {} }
        """
    }

    /// 12 users, one window each: one copy rejects the 2 over the cap; four copies each
    /// hold their share (about 3 users) under their own cap of 10, and count every event.
    @Test func theCapIsPerParallelCopy() throws {
        let dir = NSTemporaryDirectory() + "sluice-window-cap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (0..<12).map { i in #"{"user":"u\#(i)","ts":\#(1_700_000_000_000 + i)}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        func run(_ parallelism: Int) throws -> (out: [Substring], rejected: [Substring]) {
            guard
                case .success(let p) = Result(catching: { () throws(Diagnostics) in
                    try Pipeline.compile(yaml: Self.yaml(parallelism: parallelism), file: "p.yaml")
                })
            else {
                Issue.record("did not compile")
                return ([], [])
            }
            var options = RunOptions()
            options.inputs["in"] = dir + "/in.jsonl"
            options.outputs["out"] = dir + "/out\(parallelism).jsonl"
            options.outputs["rejected"] = dir + "/rejected\(parallelism).jsonl"
            #expect(try p.start(options).wait() == .completed)
            let out = try String(contentsOfFile: dir + "/out\(parallelism).jsonl", encoding: .utf8)
            let rejected = try String(contentsOfFile: dir + "/rejected\(parallelism).jsonl", encoding: .utf8)
            return (out.split(separator: "\n"), rejected.split(separator: "\n"))
        }
        let one = try run(1)
        #expect(one.out.count == 10)
        #expect(one.rejected.count == 2)
        #expect(one.rejected.allSatisfy { $0.contains("window: max_open_windows (10) reached; event not counted") })
        let four = try run(4)
        #expect(four.out.count == 12)
        #expect(four.rejected.isEmpty)
    }
}
