import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// The step-wide budgets on a pattern's state: partial matches and held events over all
/// keys (issue 14, item 13: with only the per-key cap, `contiguity: any` with a loop grew
/// to gigabytes at 10,000 keys).
@Suite struct PatternBudgetTests {
    /// `a`, then `b` any number of times up to 10 with `contiguity: any` (every subset of
    /// the b's is a partial match), then `c`, per user.
    static func anyLoop(_ limits: String) throws -> (StepHarness, PatternStep) {
        try PatternTest.step(
            """
            key: user
            within: 1h
            skip: none
            \(limits)
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
                times: { min: 1, max: 10 }
              - name: c
                where: kind == "c"
            """)
    }

    /// Sends, to each of `keys` users in turn, `a` then six `b`s, advancing the watermark
    /// after each round; `check` runs after each round.
    static func sendRounds(_ h: StepHarness, keys: Int, check: () -> Void) {
        var t: Int64 = 0
        for round in 0..<7 {
            for u in 0..<keys {
                let kind = round == 0 ? "a" : "b"
                h.send(
                    ["kind": .string(kind), "id": .string("\(kind)\(round)-\(u)"), "user": .string("u\(u)")], time: t)
                t += 1
            }
            h.advance(to: t)
            check()
        }
    }

    @Test func partialMatchesOverAllKeysStayWithinTheBudget() throws {
        let (h, s) = try Self.anyLoop("max_total_partial_matches: 1000")
        var peak = 0
        Self.sendRounds(h, keys: 100) { peak = max(peak, s.livePartialMatches) }
        // Unbounded, 100 keys × 2^6 subsets = 6,400 partial matches.
        #expect(peak <= 1000)
        #expect(peak > 900)
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(!rejected.isEmpty)
        let message = rejected.first?.value["error"]?["message"]?.stringValue ?? ""
        #expect(
            message.hasPrefix(
                #"pattern: the step would have more than 1000 partial matches over all keys (max_total_partial_matches); the event of key "u"#
            ))
        #expect(message.hasSuffix(#"" was not matched"#))
        #expect(rejected.first?.value["event"]?["kind"] == "b")
        // What was kept still matches, and everything returns at the end.
        for u in 0..<100 { h.send(["kind": "c", "id": "c", "user": .string("u\(u)")], time: 10_000) }
        h.advance(to: Int64.max)
        #expect(!h.emitted.isEmpty)
        #expect(s.stateSize == 0)
    }

    @Test func eventsHeldOverAllKeysStayWithinTheBudget() throws {
        let (h, s) = try Self.anyLoop("max_buffered_events: 50")
        var peak = 0
        Self.sendRounds(h, keys: 20) { peak = max(peak, s.sharedBufferEvents) }
        #expect(peak <= 50)
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(!rejected.isEmpty)
        #expect(
            rejected.first?.value["error"]?["message"]
                == #"pattern: the step already holds 50 events for partial matches (max_buffered_events); the event of key "u10" was not matched"#
        )
        h.advance(to: Int64.max)
        #expect(s.stateSize == 0)
    }

    @Test func defaultsKeepTheStateToAFewHundredMegabytes() throws {
        let (_, s) = try Self.anyLoop("")
        #expect(s.runner.limits.partialMatchesPerKey == 10_000)
        #expect(s.runner.limits.partialMatches == 1_000_000)
        #expect(s.runner.limits.bufferedEvents == 1_000_000)
    }

    @Test func statsCountTheEventsOverTheBudget() throws {
        let (_, s) = try Self.anyLoop("max_total_partial_matches: 100")
        let chain = StepChain([.init(step: s, name: "match", kind: "pattern")])
        var events: [Event] = []
        for round in 0..<7 {
            for u in 0..<20 {
                let kind = round == 0 ? "a" : "b"
                events.append(
                    Event(
                        ["kind": .string(kind), "id": .string("\(kind)\(round)"), "user": .string("u\(u)")],
                        time: Int64(events.count)))
            }
        }
        var sides: [(port: Int, event: Event)] = []
        _ = chain.process(events, watermark: Int64.min, sides: &sides)
        _ = chain.advance(watermark: Int64.max, sides: &sides)
        let overBudget = sides.filter {
            $0.port == SidePort.rejected
                && ($0.event.value["error"]?["message"]?.stringValue ?? "").contains("max_total_partial_matches")
        }
        #expect(!overBudget.isEmpty)
        #expect(overStateLimits(chain) == overBudget.count)
        #expect(chain.stats[0].rejected == overBudget.count)
    }

    @Test func statsCountThePerKeyCapToo() throws {
        let (_, s) = try Self.anyLoop("max_partial_matches: 3")
        let chain = StepChain([.init(step: s, name: "match", kind: "pattern")])
        let events = ["a", "b", "b", "b"].enumerated().map { i, kind in
            Event(["kind": .string(kind), "id": .string("\(kind)\(i)"), "user": "u"], time: Int64(i))
        }
        var sides: [(port: Int, event: Event)] = []
        _ = chain.process(events, watermark: Int64.min, sides: &sides)
        _ = chain.advance(watermark: Int64.max, sides: &sides)
        #expect(chain.stats[0].rejected == 2)
        #expect(overStateLimits(chain) == 2)
    }

    @Test func limitsMustBePositive() {
        let errors = PatternTest.errors(
            """
            max_total_partial_matches: 0
            max_buffered_events: -1
            sequence:
              - name: a
            """)
        #expect(errors.count == 2)
    }
}

/// The pattern step's count of events rejected at a state limit, as `--stats` reads it.
private func overStateLimits(_ chain: StepChain) -> Int {
    chain.stats[0].counters.first { $0.name == "over_state_limits" }?.value ?? 0
}
