import SluiceCore
import SluiceJSON
import Testing

/// Keys, the partial-match cap, and memory returning after the input ends.
@Suite struct PatternStateTests {
    @Test func matchingIsPerKey() throws {
        let (h, _) = try PatternTest.step(
            """
            key: user
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: strict
            """)
        h.send(["kind": "a", "id": "a1", "user": "u1"], time: 1)
        h.send(["kind": "a", "id": "a2", "user": "u2"], time: 2)
        h.send(["kind": "b", "id": "b1", "user": "u1"], time: 3)
        h.send(["kind": "x", "id": "x", "user": "u2"], time: 4)
        h.send(["kind": "b", "id": "b2", "user": "u2"], time: 5)
        h.send(["kind": "b", "id": "nokey"], time: 6)
        #expect(PatternTest.finish(h) == ["{a1 b1}"])
        #expect(h.sides[SidePort.rejected]?.first?.value["error"]?["message"] == "key: no such field 'user'")
    }

    @Test func keyAsExpression() throws {
        let (h, _) = try PatternTest.step(
            """
            key: user + "/" + string(region)
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        h.send(["kind": "a", "id": "a1", "user": "u", "region": 1], time: 1)
        h.send(["kind": "b", "id": "b2", "user": "u", "region": 2], time: 2)
        h.send(["kind": "b", "id": "b1", "user": "u", "region": 1], time: 3)
        #expect(PatternTest.finish(h) == ["{a1 b1}"])
    }

    @Test func capOnPartialMatchesRejectsLoudly() throws {
        let (h, s) = try PatternTest.step(
            """
            key: user
            max_partial_matches: 3
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a1 a2 a3 a4", key: "u1")
        h.advance(to: 100_000)
        let r = h.sides[SidePort.rejected] ?? []
        #expect(r.count == 1)
        #expect(
            r.first?.value["error"]?["message"]
                == #"pattern: key "u1" would have more than 3 partial matches (max_partial_matches); the event was not matched"#
        )
        #expect(r.first?.value["event"]?["id"] == "a4")
        #expect(s.livePartialMatches == 3)
        PatternTest.send(h, "b", key: "u1", start: 200_000)
        #expect(PatternTest.finish(h) == ["{a1 b}"])
    }

    @Test func memoryReturnsToZeroAfterTheInputEnds() throws {
        let (h, s) = try PatternTest.step(
            """
            key: user
            within: 1m
            skip: none
            timeouts: true
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
                times: { min: 1, max: 4 }
              - not: { where: kind == "x" }
              - name: c
                where: kind == "c"
            """)
        var t: Int64 = 0
        for i in 0..<300 {
            let kinds = ["a", "b", "b", "c", "x", "y"]
            h.send(
                [
                    "kind": .string(kinds[(i * 7 + i / 3) % kinds.count]), "id": .string("e\(i)"),
                    "user": .string("u\(i % 5)"),
                ], time: t)
            t += 250
            if i % 17 == 0 { h.advance(to: t - 1000) }
        }
        #expect(s.livePartialMatches > 0)
        h.advance(to: Int64.max)
        #expect(!h.emitted.isEmpty)
        #expect(s.livePartialMatches == 0)
        #expect(s.sharedBufferEvents == 0)
        #expect(s.queuedEvents == 0)
        #expect(s.stateSize == 0)
    }

    @Test func sharedBufferStoresEachEventOnce() throws {
        let (h, s) = try PatternTest.step(
            """
            skip: none
            within: 1m
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
                times: { min: 1, max: 3 }
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a b1 b2 b3")
        h.advance(to: 10_000)
        // 7 partial matches over 4 distinct events
        #expect(s.livePartialMatches >= 7)
        #expect(s.sharedBufferEvents == 4)
        h.advance(to: Int64.max)
        #expect(s.sharedBufferEvents == 0)
    }
}
