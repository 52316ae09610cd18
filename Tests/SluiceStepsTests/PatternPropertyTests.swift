import PropertyBased
import SluiceCore
import SluiceJSON
import Testing

/// A pattern over one-letter event kinds, written both as YAML and as data for the
/// brute-force reference below.
struct RefPattern: CustomStringConvertible {
    struct Step {
        var letter: String
        var min: Int
        var max: Int?
        var optional: Bool
        var contiguity: String
        var inner: String
    }
    struct Not {
        var letter: String
        var strict: Bool
    }
    var steps: [Step]
    /// nots[j]: negations before step j; nots[steps.count]: trailing.
    var nots: [[Not]]
    var within: Int64
    var skip: String

    var yaml: String {
        var s = "skip: \(skip)\nwithin: \(within)ms\nsequence:\n"
        for (j, st) in steps.enumerated() {
            for n in nots[j] {
                s += "  - not: { where: kind == \"\(n.letter)\", contiguity: \(n.strict ? "strict" : "relaxed") }\n"
            }
            s += "  - name: s\(j)\n    where: kind == \"\(st.letter)\"\n    contiguity: \(st.contiguity)\n"
            s += "    optional: \(st.optional)\n"
            s += "    times: { min: \(st.min)\(st.max.map { ", max: \($0)" } ?? ""), contiguity: \(st.inner) }\n"
        }
        for n in nots[steps.count] {
            s += "  - not: { where: kind == \"\(n.letter)\", contiguity: \(n.strict ? "strict" : "relaxed") }\n"
        }
        return s
    }

    var description: String { yaml }

    /// One generated step: its letter, `times` (an index into ``RefPattern/timesChoices``),
    /// whether it is optional, its contiguity and inner contiguity (indices into "strict",
    /// "relaxed", "any", used with `contiguity: mixed`), and an optional `not` before it.
    struct RawStep: Sendable, CustomStringConvertible {
        var letter: Int
        var times: Int
        var optional: Bool
        var contiguity: Int
        var inner: Int
        var not: Bool
        var notLetter: Int
        var notStrict: Bool
        var description: String {
            "letter \(letter) times \(times) optional \(optional) contiguity \(contiguity) inner \(inner)"
                + (not ? " not \(notLetter) strict \(notStrict)" : "")
        }
    }

    static let timesChoices: [(Int, Int?)] = [(1, 1), (1, 1), (1, 2), (2, 3), (1, nil)]
    static let contiguities = ["strict", "relaxed", "any"]

    /// One to three steps, generated (and shrunk) by PropertyBased.
    static let rawSteps = zip(
        Gen.int(in: 0...2), Gen.int(in: 0...4), Gen.bool(0.25), Gen.int(in: 0...2), Gen.int(in: 0...2), Gen.bool(0.25),
        Gen.int(in: 0...1), Gen.bool
    ).map {
        RawStep(letter: $0, times: $1, optional: $2, contiguity: $3, inner: $4, not: $5, notLetter: $6, notStrict: $7)
    }
    .array(of: 1...3)

    /// The rest of a pattern: a trailing `not` (whether, strict) and `within`.
    static let rawTail = zip(Gen.bool(0.25), Gen.bool, Gen.int64(in: 3...12))

    /// The pattern `raw` describes, with the given skip strategy and contiguity ("mixed":
    /// each step's own): the first step is never optional, a `not` follows only a step that
    /// is not optional, and a trailing `not` only with skip `none`.
    static func make(_ raw: [RawStep], tail: (not: Bool, strict: Bool, within: Int64), skip: String, contiguity: String)
        -> RefPattern
    {
        let letters = ["a", "b", "c"]
        var steps: [Step] = []
        var nots: [[Not]] = []
        for (j, r) in raw.enumerated() {
            let (mn, mx) = timesChoices[r.times]
            let c = contiguity == "mixed" ? contiguities[r.contiguity] : contiguity
            let inner = contiguity == "mixed" ? contiguities[r.inner] : contiguity
            var before: [Not] = []
            if j > 0, !steps[j - 1].optional, r.not {
                before.append(Not(letter: ["c", "d"][r.notLetter], strict: r.notStrict))
            }
            nots.append(before)
            steps.append(
                Step(
                    letter: letters[r.letter], min: mn, max: mx, optional: j > 0 && r.optional, contiguity: c,
                    inner: inner))
        }
        var trailing: [Not] = []
        if skip == "none", let last = steps.last, !last.optional, tail.not {
            trailing.append(Not(letter: "d", strict: tail.strict))
        }
        nots.append(trailing)
        return RefPattern(steps: steps, nots: nots, within: tail.within, skip: skip)
    }
}

/// Brute force: enumerate every subsequence of the (time-sorted) stream with an
/// assignment of its events to steps, keep those the declarative rules allow, then
/// order them as the matcher emits them and apply the skip strategy.
struct ReferenceMatcher {
    let p: RefPattern
    let kinds: [String]
    let times: [Int64]

    struct Match {
        var events: [Int]
        var steps: [Int]
    }

    func matches() -> [[Int]] {
        var found: [Match] = []
        let n = p.steps.count
        func skippable(_ from: Int, _ to: Int) -> Bool {
            (from..<to).allSatisfy { $0 >= 0 && $0 < n && p.steps[$0].optional }
        }
        func countOK(_ j: Int, _ k: Int) -> Bool { k >= p.steps[j].min && k <= (p.steps[j].max ?? Int.max) }
        func notsBetween(_ a: Int, _ b: Int) -> [RefPattern.Not] {
            var out: [RefPattern.Not] = []
            var m = a + 1
            while m <= b { out += p.nots[m]; m += 1 }
            return out
        }
        func pairOK(_ prev: Int, _ prevStep: Int, _ x: Int, _ step: Int) -> Bool {
            let c = step == prevStep ? p.steps[step].inner : p.steps[step].contiguity
            switch c {
            case "strict": if x != prev + 1 { return false }
            case "relaxed": if (prev + 1..<x).contains(where: { kinds[$0] == p.steps[step].letter }) { return false }
            default: break
            }
            for neg in notsBetween(prevStep, step) {
                if neg.strict {
                    if prev + 1 <= x, kinds[prev + 1] == neg.letter { return false }
                } else if (prev + 1...x).contains(where: { kinds[$0] == neg.letter }) {
                    return false
                }
            }
            return true
        }
        func trailingOK(_ m: Match) -> Bool {
            guard let last = m.events.last, let first = m.events.first else { return false }
            let end = times[first] + p.within
            // Only a true trailing `not` waits: one before optional steps that the match
            // skips constrains only matches that reach those steps (as in Flink).
            for neg in p.nots[n] {
                if neg.strict {
                    if last + 1 < kinds.count, times[last + 1] < end, kinds[last + 1] == neg.letter { return false }
                } else if (last + 1..<kinds.count).contains(where: { times[$0] < end && kinds[$0] == neg.letter }) {
                    return false
                }
            }
            return true
        }
        func extend(_ m: Match, _ k: Int) {
            guard let last = m.events.last, let j = m.steps.last, let first = m.events.first else { return }
            if countOK(j, k), skippable(j + 1, n), trailingOK(m) { found.append(m) }
            for x in (last + 1)..<max(last + 1, kinds.count) where times[x] - times[first] < p.within {
                // same step
                if k < (p.steps[j].max ?? Int.max), kinds[x] == p.steps[j].letter, pairOK(last, j, x, j) {
                    extend(Match(events: m.events + [x], steps: m.steps + [j]), k + 1)
                }
                // a later step
                guard countOK(j, k) else { continue }
                var j2 = j + 1
                while j2 < n {
                    if kinds[x] == p.steps[j2].letter, pairOK(last, j, x, j2) {
                        extend(Match(events: m.events + [x], steps: m.steps + [j2]), 1)
                    }
                    if !p.steps[j2].optional { break }
                    j2 += 1
                }
            }
        }
        for x in kinds.indices {
            var j = 0
            while j < n {
                if kinds[x] == p.steps[j].letter { extend(Match(events: [x], steps: [j]), 1) }
                if !p.steps[j].optional { break }
                j += 1
            }
        }
        // Emission order: by the event that completes the match, then earliest start, then
        // earliest events. Matches waiting for a trailing `not` complete later; those
        // patterns are only compared with skip none, as multisets.
        found.sort { a, b in
            if a.events.last != b.events.last { return (a.events.last ?? 0) < (b.events.last ?? 0) }
            return a.events.lexicographicallyPrecedes(b.events)
        }
        var out: [[Int]] = []
        var threshold = Int.min
        for m in found {
            guard let f = m.events.first, let l = m.events.last else { continue }
            if p.skip != "none", f <= threshold { continue }
            out.append(m.events)
            if p.skip == "past_last" { threshold = max(threshold, l) }
            if p.skip == "to_next" { threshold = max(threshold, f) }
        }
        return out
    }
}

@Suite struct PatternPropertyTests {
    /// One generated event: its kind ("a" to "d"), its time, and where it goes in the
    /// arrival order (events are sent sorted by `order`, ties in generated order, so
    /// shrinking `order` to zero leaves them in generated order).
    struct RawEvent: Sendable, CustomStringConvertible {
        var kind: Int
        var time: Int64
        var order: Int
        var description: String { "kind \(kind) time \(time) order \(order)" }
    }

    /// Four to nine events with random (often equal) times, in a shuffled order.
    static let rawEvents = zip(Gen.int(in: 0...3), Gen.int64(in: 0...12), Gen.int(in: 0...20))
        .map { RawEvent(kind: $0, time: $1, order: $2) }.array(of: 4...9)

    func compare(_ pattern: RefPattern, _ raw: [RawEvent]) throws {
        let kinds = ["a", "b", "c", "d"]
        let shuffled = raw.indices.sorted { (raw[$0].order, $0) < (raw[$1].order, $1) }
        let events: [(kind: String, time: Int64, arrival: Int)] = shuffled.enumerated().map { i, g in
            (kinds[raw[g].kind], raw[g].time, i)
        }
        let sorted = events.sorted { ($0.time, $0.arrival) < ($1.time, $1.arrival) }
        let ref = ReferenceMatcher(p: pattern, kinds: sorted.map(\.kind), times: sorted.map(\.time))
        let expected = ref.matches().map { $0.map { "e\(sorted[$0].arrival)" }.joined(separator: " ") }

        let (h, step) = try PatternTest.step(pattern.yaml)
        for e in events {
            var o = JSONObject()
            o["kind"] = .string(e.kind)
            o["id"] = .string("e\(e.arrival)")
            h.send(.object(o), time: e.time)
        }
        h.advance(to: Int64.max)
        let got = h.take().map { String(PatternTest.ids($0).dropFirst().dropLast()) }
        let stream = sorted.map { "e\($0.arrival):\($0.kind)@\($0.time)" }.joined(separator: " ")
        if pattern.nots[pattern.steps.count].isEmpty {
            #expect(got == expected, "\(pattern)\n\(stream)")
        } else {
            #expect(got.sorted() == expected.sorted(), "\(pattern)\n\(stream)")
        }
        #expect(
            step.livePartialMatches == 0 && step.sharedBufferEvents == 0 && step.stateSize == 0, "\(pattern)\n\(stream)"
        )
    }

    @Test(arguments: ["strict", "relaxed", "any", "mixed"], ["past_last", "to_next", "none"])
    func matchesTheBruteForceReference(contiguity: String, skip: String) async {
        await propertyCheck(count: 150, input: RefPattern.rawSteps, RefPattern.rawTail, Self.rawEvents) {
            steps, tail, events in
            let pattern = RefPattern.make(steps, tail: tail, skip: skip, contiguity: contiguity)
            do {
                try compare(pattern, events)
            } catch {
                Issue.record("\(pattern)\n\(events): \(error)")
            }
        }
    }
}
