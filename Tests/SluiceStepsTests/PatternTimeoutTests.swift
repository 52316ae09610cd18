import SluiceCore
import SluiceJSON
import Testing

/// `timeouts: true`: expired partial matches go to `STREAM.timeouts`.
@Suite struct PatternTimeoutTests {
    @Test func expiredPartialMatchGoesToTimeouts() throws {
        let (h, s) = try PatternTest.step(
            """
            key: user
            within: 10s
            timeouts: true
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: 2
              - name: c
                where: kind == "c"
            """)
        h.send(["kind": "a", "id": "a", "user": "u1"], time: 1000)
        h.send(["kind": "b", "id": "b1", "user": "u1"], time: 2000)
        h.advance(to: 10999)
        #expect(h.sides[SidePort.timeouts] == nil)
        h.advance(to: 20000)
        let t = h.sides[SidePort.timeouts]?.map(\.value) ?? []
        #expect(
            t == [
                [
                    "captures": [
                        "a": ["kind": "a", "id": "a", "user": "u1"], "b": [["kind": "b", "id": "b1", "user": "u1"]],
                    ],
                    "timed_out_at": 11000, "key": "u1",
                ]
            ])
        #expect(h.sides[SidePort.timeouts]?.first?.time == 11000)
        #expect(s.livePartialMatches == 0 && s.sharedBufferEvents == 0)
    }

    /// Keys whose windows close at the same time time out in the order their partial
    /// matches started (equal start times: in arrival order), not in whatever order the
    /// deadline queue happens to hold them.
    @Test func equalDeadlinesTimeOutInStartOrder() throws {
        let (h, _) = try PatternTest.step(
            """
            key: user
            within: 10s
            timeouts: true
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        for u in ["u3", "u1", "u2", "u5", "u4"] {
            h.send(["kind": "a", "id": .string("a-" + u), "user": .string(u)], time: 1000)
        }
        h.send(["kind": "a", "id": "a-u0", "user": "u0"], time: 900)
        h.advance(to: 20000)
        let t = h.sides[SidePort.timeouts]?.map(\.value) ?? []
        #expect(t.map { $0["key"] } == ["u0", "u3", "u1", "u2", "u5", "u4"])
        #expect(t.map { $0["timed_out_at"] } == [10900, 11000, 11000, 11000, 11000, 11000])
    }

    @Test func noTimeoutsUnlessAsked() throws {
        let (h, s) = try PatternTest.step(
            """
            within: 10s
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a")
        h.advance(to: Int64.max)
        #expect(h.sides.isEmpty)
        #expect(s.stateSize == 0)
    }

    @Test func everythingPendingTimesOutAtTheEndOfInput() throws {
        let (h, s) = try PatternTest.step(
            """
            timeouts: true
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a1 x a2")
        h.advance(to: Int64.max)
        let t = h.sides[SidePort.timeouts]?.map(\.value) ?? []
        #expect(t.map { $0["captures"]?["a"]?["id"] } == ["a1", "a2"])
        #expect(t.first?["timed_out_at"] == 3000)
        #expect(t.first?["key"] == nil)
        #expect(s.stateSize == 0)
    }

    @Test func oneTimeoutPerPartialMatchNotPerNFABranch() throws {
        let (h, _) = try PatternTest.step(
            """
            within: 10s
            timeouts: true
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                optional: true
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a x")
        h.advance(to: Int64.max)
        #expect(h.sides[SidePort.timeouts]?.count == 1)
    }
}
