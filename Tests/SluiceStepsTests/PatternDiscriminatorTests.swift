import SluiceCore
import SluiceJSON
import SluiceSteps
import SluiceTestSupport
import Testing

/// The discriminator (arrival conditions decided by one field's string, without CEL)
/// against CEL alone: the same step with and without it, on the same events, must give
/// the same matches, timeouts, rejections and condition errors.
@Suite struct PatternDiscriminatorTests {
    static let configs: [String] = [
        """
        key: user
        within: 5s
        sequence:
          - { name: s0, where: kind == "a" }
          - { name: s1, where: kind == "b" && n > 3 }
          - { name: s2, where: '"c" == kind' }
        """,
        """
        key: user
        within: 5s
        timeouts: true
        sequence:
          - { name: s0, where: kind == "a" || kind == "b" }
          - { name: s1, where: 'kind == "ab" && (kind == "ab" || n > 1)' }
          - not: { where: kind == "x" && kind == "ba" }
          - { name: s2, where: 'kind == "b" && (n > 1 || kind == "c")' }
        """,
        """
        key: user
        within: 5s
        sequence:
          - { name: login, where: type == "a" }
          - { name: buy, where: 'type == "b" && n > 2.5', contiguity: any }
        """,
        """
        within: 5s
        skip: past_last
        sequence:
          - { name: s0, where: 'kind == "a" && n != 2' }
          - not: { where: kind == "x" }
          - { name: s1, where: kind == "K", times: { min: 1, max: 3 } }
          - { name: s2, where: 'n > 0 && kind == "é"', optional: true }
          - { name: s3, where: kind == "b" }
        """,
    ]

    static let kinds: [JSON] = [
        .string("a"), .string("b"), .string("c"), .string("ab"), .string("ba"), .string("x"), .string("K"),
        .string("\u{212A}"), .string("é"), .string("e\u{301}"), .int(1), .null, .bool(true),
    ]
    /// Keys: short plain strings, one of 15 and one of 16 bytes, ones with an escape or
    /// non-ASCII (the Kelvin sign equals `K`), empty, and not strings.
    static let users: [JSON] = [
        .string("u0"), .string("u1"), .string("u2"), .string("K"), .string("\u{212A}"), .string("abcdefghijklmno"),
        .string("abcdefghijklmnop"), .string("a\"b"), .string(""), .int(7), .string("é"),
    ]
    static let numbers: [JSON?] = [.int(0), .int(2), .int(5), .double(3.5), .string("7"), .null, nil]

    /// `o` as a reader makes it: its bytes, with the offsets of `index`'s fields.
    static func raw(_ o: JSONObject, time: Int64, index: FieldIndex) -> Event {
        let bytes = Array(JSONWriter.string(.object(o)).utf8)
        let buf = ByteBuffer(capacity: bytes.count, fieldIndex: index)
        bytes.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var offsets = FieldOffsets()
        #expect(JSONParser.validate(buf.bytes(0, bytes.count), index: index, offsets: &offsets) == nil)
        var e = Event(raw: buf, start: 0, count: bytes.count, line: 1, offsets: offsets)
        e.time = time
        return e
    }

    /// Sends `o` at `time` to both steps, raw (each read with its step's field index, as a
    /// reader makes them) or parsed, and moves both watermarks on every 100th event.
    static func send(
        _ o: JSONObject, time t: Int64, number i: Int, raw: Bool, to a: (StepHarness, PatternStep),
        and b: (StepHarness, PatternStep)
    ) {
        for (harness, step) in [a, b] {
            harness.send(raw ? Self.raw(o, time: t, index: step.readerIndex) : Event(.object(o), time: t))
        }
        if i % 100 == 99 {
            a.0.advance(to: t - 1500)
            b.0.advance(to: t - 1500)
        }
    }

    /// For each config, events that complete a match (kind or type, and `n`), in order.
    static let completions: [[(JSON, JSON)]] = [
        [(.string("a"), .int(5)), (.string("b"), .int(5)), (.string("c"), .int(5))],
        [(.string("a"), .int(5)), (.string("ab"), .int(5)), (.string("b"), .int(5))],
        [(.string("a"), .double(5.5)), (.string("b"), .double(5.5))],
        [(.string("a"), .int(5)), (.string("K"), .int(5)), (.string("b"), .int(5))],
    ]

    /// Random events, and now and then a sequence that completes a match: its events
    /// one after another at the latest time so far (so none is late, and nothing comes
    /// between them in event time), of one key. Each such sequence ends with at least
    /// one match (one of those ending at its last event: the skip strategy may keep an
    /// earlier-starting one instead), so every config has matches by construction.
    @Test(arguments: 0..<4, [false, true])
    func sameResultsWithAndWithoutTheDiscriminator(_ c: Int, raw: Bool) throws {
        let config = Self.configs[c]
        let field = c == 2 ? "type" : "kind"
        let (fast, fastStep) = try PatternTest.step(config)
        let (slow, slowStep) = try PatternTest.step(config)
        #expect(fastStep.discriminator != nil)
        slowStep.discriminator = nil
        // Raw short keys hashed from their bytes, against keys made into values first.
        slowStep.rawShortKeys = false
        var rng = SplitMix64(seed: UInt64(0x5EED + c))
        func next(_ n: Int) -> Int { rng.below(n) }
        var t: Int64 = 1000
        var latest = t
        var planted = 0
        for i in 0..<3000 {
            if next(50) == 0 {
                for (kind, n) in Self.completions[c] {
                    var o = JSONObject()
                    o[field] = kind
                    o["id"] = .int(Int64(-1 - planted))
                    o["user"] = .string("u1")
                    o["n"] = n
                    Self.send(o, time: latest, number: -1, raw: raw, to: (fast, fastStep), and: (slow, slowStep))
                }
                planted += 1
            }
            var o = JSONObject()
            // The discriminating field sometimes missing, first or after others.
            let kind = Self.kinds[next(Self.kinds.count)]
            let shape = next(4)
            if shape == 0 { o[field] = kind }
            o["id"] = .int(Int64(i))
            // Mostly three plain keys, sometimes the others.
            o["user"] = next(4) == 0 ? Self.users[next(Self.users.count)] : .string("u\(next(3))")
            if let n = Self.numbers[next(Self.numbers.count)] { o["n"] = n }
            if shape == 1 || shape == 2 { o[field] = kind }
            t += Int64(next(700)) - 100
            latest = max(latest, t)
            Self.send(o, time: t, number: i, raw: raw, to: (fast, fastStep), and: (slow, slowStep))
        }
        fast.advance(to: Int64.max)
        slow.advance(to: Int64.max)
        #expect(fast.emitted.map(\.value) == slow.emitted.map(\.value))
        #expect(planted > 20)
        #expect(fast.emitted.count >= planted)
        #expect(fast.sides.mapValues { $0.map(\.value) } == slow.sides.mapValues { $0.map(\.value) })
        #expect(fastStep.conditionErrors == slowStep.conditionErrors)
    }

    /// `emit` fields that each read a capture's field, written from the captured events
    /// directly, against the same fields through CEL: values of every JSON kind (lists
    /// and objects, which CEL converts), absent fields, a skipped optional step, and
    /// a last event with a field named like a whole selection (`s0.user`), which CEL
    /// reads first.
    @Test(arguments: [false, true])
    func sameEmitWithAndWithoutDirectFields(raw: Bool) throws {
        let config = """
            key: user
            within: 5s
            emit: { u: s0.user, n: s2.n, k: s0.kind, w: s2.w, m: s1.n, id: s0.id }
            sequence:
              - { name: s0, where: kind == "a" }
              - { name: s1, where: kind == "c", optional: true }
              - { name: s2, where: kind == "b" }
            """
        let (fast, fastStep) = try PatternTest.step(config)
        let (slow, slowStep) = try PatternTest.step(config)
        #expect(fastStep.emitsSelectedFields)
        slowStep.directEmit = false
        let ws: [JSON?] = [
            .int(1), .double(2.5), .string("é"), .bool(false), .null, .array([.int(1), .string("x")]),
            .object(JSONObject([("a", .int(1)), ("b", .array([]))])), nil,
        ]
        var rng = SplitMix64(seed: UInt64(0xE417))
        func next(_ n: Int) -> Int { rng.below(n) }
        var t: Int64 = 1000
        for i in 0..<3000 {
            var o = JSONObject()
            o["kind"] = .string(["a", "b", "c", "x"][next(4)])
            o["id"] = .int(Int64(i))
            o["user"] = .string("u\(next(3))")
            if let n = Self.numbers[next(Self.numbers.count)] { o["n"] = n }
            if let w = ws[next(ws.count)] { o["w"] = w }
            if next(20) == 0 { o["s0.user"] = .string("dotted") }
            t += Int64(next(700)) - 100
            Self.send(o, time: t, number: i, raw: raw, to: (fast, fastStep), and: (slow, slowStep))
        }
        fast.advance(to: Int64.max)
        slow.advance(to: Int64.max)
        #expect(fast.emitted.map(\.value) == slow.emitted.map(\.value))
        #expect(fast.emitted.count > 50)
        #expect(fast.sides.mapValues { $0.map(\.value) } == slow.sides.mapValues { $0.map(\.value) })
        #expect(!(fast.sides[SidePort.rejected] ?? []).isEmpty)
        #expect(fastStep.matchCount == slowStep.matchCount)
    }

    @Test func noDirectEmitForOtherShapes() throws {
        for emit in ["{ u: s0.user, t: s1 }", "{ u: s0.user.x }", "{ u: size(s0) }", "{ u: s9.user }"] {
            let (_, s) = try PatternTest.step(
                """
                key: user
                emit: \(emit)
                sequence:
                  - { name: s0, where: kind == "a" }
                  - { name: s1, where: kind == "b", times: 2 }
                """)
            #expect(!s.emitsSelectedFields, "\(emit)")
        }
        let (_, list) = try PatternTest.step(
            """
            emit: { u: s1.user }
            sequence:
              - { name: s0, where: kind == "a" }
              - { name: s1, where: kind == "b", times: 2 }
            """)
        #expect(!list.emitsSelectedFields)
    }

    @Test func noDiscriminatorWithoutAStringEquality() throws {
        let (_, s) = try PatternTest.step(
            """
            sequence:
              - { name: s0, where: n > 1 }
              - { name: s1, where: kind != "b" }
            """)
        #expect(s.discriminator == nil)
    }
}
