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

    @Test(arguments: 0..<4, [false, true])
    func sameResultsWithAndWithoutTheDiscriminator(_ c: Int, raw: Bool) throws {
        let config = Self.configs[c]
        let (fast, fastStep) = try PatternTest.step(config)
        let (slow, slowStep) = try PatternTest.step(config)
        #expect(fastStep.discriminator != nil)
        slowStep.discriminator = nil
        var rng: UInt64 = 0x5EED &+ UInt64(c)
        func next(_ n: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(n))
        }
        var t: Int64 = 1000
        for i in 0..<3000 {
            var o = JSONObject()
            // The discriminating field sometimes missing, first or after others.
            let kind = Self.kinds[next(Self.kinds.count)]
            let shape = next(4)
            if shape == 0 { o[c == 2 ? "type" : "kind"] = kind }
            o["id"] = .int(Int64(i))
            o["user"] = .string("u\(next(3))")
            if let n = Self.numbers[next(Self.numbers.count)] { o["n"] = n }
            if shape == 1 || shape == 2 { o[c == 2 ? "type" : "kind"] = kind }
            t += Int64(next(700)) - 100
            // Raw events, each read with its step's field index, as a reader makes them.
            fast.send(raw ? Self.raw(o, time: t, index: fastStep.readerIndex) : Event(.object(o), time: t))
            slow.send(raw ? Self.raw(o, time: t, index: slowStep.readerIndex) : Event(.object(o), time: t))
            if i % 100 == 99 {
                fast.advance(to: t - 1500)
                slow.advance(to: t - 1500)
            }
        }
        fast.advance(to: Int64.max)
        slow.advance(to: Int64.max)
        #expect(fast.emitted.map(\.value) == slow.emitted.map(\.value))
        #expect(!fast.emitted.isEmpty)
        #expect(fast.sides.mapValues { $0.map(\.value) } == slow.sides.mapValues { $0.map(\.value) })
        #expect(fastStep.conditionErrors == slowStep.conditionErrors)
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
