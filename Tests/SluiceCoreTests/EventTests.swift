import SluiceCore
import SluiceJSON
import Testing

@Suite struct EventTests {
    func raw(_ text: String) -> Event {
        let bytes = Array(text.utf8)
        let buf = bytes.withUnsafeBytes { ByteBuffer(copying: $0) }
        return Event(raw: buf, start: 0, count: bytes.count)
    }

    @Test func rawEventsWriteTheirOriginalBytes() {
        let e = raw(#"{"a": 1,  "b":[1,2]}"#)
        #expect(e.description == #"{"a": 1,  "b":[1,2]}"#)
        #expect(e.field("b") == [1, 2])
        #expect(e.value == ["a": 1, "b": [1, 2]])
    }

    @Test func appendingNewFieldsSplicesThemInWithoutParsing() {
        var e = raw(#"{"a":1}"#)
        let ok1 = e.appendNewFields(JSONObject([("big", .bool(true)), ("n", .int(2))]))
        #expect(ok1)
        #expect(e.description == #"{"a":1,"big":true,"n":2}"#)
        #expect(e.field("big") == true)
        #expect(e.field("a") == 1)
        #expect(e.value == ["a": 1, "big": true, "n": 2])
        let ok2 = e.appendNewFields(JSONObject([("c", .string("x"))]))
        #expect(ok2)
        #expect(e.description == #"{"a":1,"big":true,"n":2,"c":"x"}"#)
    }

    @Test func appendingToAnEmptyObjectHasNoLeadingComma() {
        var e = raw("{ }")
        let ok3 = e.appendNewFields(JSONObject([("x", .int(1))]))
        #expect(ok3)
        #expect(e.description == #"{ "x":1}"#)
    }

    @Test func appendingAnExistingKeyOrToANonObjectIsRefused() {
        var e = raw(#"{"a":1}"#)
        let ok4 = e.appendNewFields(JSONObject([("a", .int(2))]))
        #expect(!ok4)
        #expect(e.description == #"{"a":1}"#)
        var arr = raw("[1]")
        let ok5 = arr.appendNewFields(JSONObject([("a", .int(2))]))
        #expect(!ok5)
    }
}

@Suite struct EventRepackTests {
    @Test func repackCopiesRawBytesIntoOneBufferAndKeepsEverythingElse() throws {
        let index = FieldIndex(["a"])
        let text = Array(#"xx{"a":1}yy{"b":2}"#.utf8)
        let buf = ByteBuffer(capacity: text.count, fieldIndex: index)
        text.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: text.count) }
        var offsets = FieldOffsets()
        #expect(JSONParser.validate(buf.bytes(2, 7), index: index, offsets: &offsets) == nil)
        var first = Event(raw: buf, start: 2, count: 7, line: 3, offsets: offsets)
        first.time = 42
        let parsed = Event(.object(JSONObject([("c", .int(3))])), time: 7)
        let second = Event(raw: buf, start: 11, count: 7, line: 4)
        let out = Event.repacked([first, parsed, second])
        #expect(out.map(\.description) == [#"{"a":1}"#, #"{"c":3}"#, #"{"b":2}"#])
        #expect(out.map(\.time) == [42, 7, Event.noTime])
        #expect(out.map(\.line) == [3, 0, 4])
        #expect(out[0].field("a") == .int(1))
        #expect(out[0].rawView(for: index)?.offsets == offsets)
        #expect(out[0].rawView(for: index)?.bytes.baseAddress != buf.bytes(2, 7).baseAddress)
    }
}

@Suite struct EventEncodeTests {
    @Test func encodingTurnsParsedAndPatchedEventsIntoTheirTextAndKeepsEverythingElse() {
        let text = Array(#"{"a":1}{"b":2}"#.utf8)
        let buf = ByteBuffer(capacity: text.count)
        text.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: text.count) }
        var raw = Event(raw: buf, start: 0, count: 7, line: 1)
        raw.time = 5
        var patched = Event(raw: buf, start: 7, count: 7, line: 2)
        _ = patched.appendNewFields(JSONObject([("n", .double(1.5))]))
        patched.time = 6
        patched.watermark = 3
        var parsed = Event(.object(JSONObject([("c", .string("x\"y")), ("d", JSON.array([1, 2]))])), time: 7, line: 9)
        parsed.ingestNanos = 11
        let out = Event.encoded([raw, patched, parsed])
        #expect(out.map(\.description) == [#"{"a":1}"#, #"{"b":2,"n":1.5}"#, #"{"c":"x\"y","d":[1,2]}"#])
        #expect(out.allSatisfy { $0.isRaw })
        #expect(out.map(\.time) == [5, 6, 7])
        #expect(out.map(\.line) == [1, 2, 9])
        #expect(out[1].watermark == 3)
        #expect(out[2].ingestNanos == 11)
        #expect(out[1].field("n") == .double(1.5))
        #expect(out[2].value == ["c": "x\"y", "d": [1, 2]])
        // Raw events keep their bytes where they were.
        #expect(out[0].withRawBytes { $0.baseAddress } == buf.bytes(0, 7).baseAddress)
    }

    /// Events whose added fields only the batch holds: encoding consumes each storage,
    /// so the added fields must stay alive while they are written. Many events with
    /// long strings, through one reused scratch buffer, so that freed memory would be
    /// reused and show up in the text.
    @Test func encodingABatchThatSolelyOwnsItsEventsWritesEveryField() {
        let text = Array(#"{"b":2}"#.utf8)
        func batch(_ round: Int) -> [Event] {
            (0..<200).map { i in
                let buf = ByteBuffer(capacity: text.count)
                text.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: text.count) }
                var e = Event(raw: buf, start: 0, count: text.count, line: i)
                _ = e.appendNewFields(
                    JSONObject([
                        ("tag", .string("user-\(round)-\(i)-" + String(repeating: "x", count: 40))),
                        ("n", .int(Int64(i))),
                    ]))
                return e
            }
        }
        var scratch: [UInt8] = []
        for round in 0..<3 {
            let out = Event.encoded(batch(round), scratch: &scratch)
            let expected = (0..<200).map { i in
                #"{"b":2,"tag":"user-\#(round)-\#(i)-"# + String(repeating: "x", count: 40) + #"","n":\#(i)}"#
            }
            #expect(out.map(\.description) == expected)
            #expect(out.allSatisfy { $0.isRaw })
        }
    }

    @Test func aBatchOfRawEventsIsReturnedAsItIs() {
        let text = Array(#"{"a":1}"#.utf8)
        let buf = ByteBuffer(capacity: text.count)
        text.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: text.count) }
        let out = Event.encoded([Event(raw: buf, start: 0, count: 7)])
        #expect(out.map(\.description) == [#"{"a":1}"#])
        #expect(Event.encoded([]).isEmpty)
    }
}

/// ``Event/appendingMembers(_:valueStarts:arena:)`` (enrich's text fast path) against
/// ``Event/appendNewFields(_:)`` (the patched event it replaces): the same text, the same
/// value, the same fields, and offsets that point at the new values.
@Suite struct EventAppendMembersTests {
    static let objects = [
        #"{"a":1}"#, "{}", "{ }", "{\n}", #"{"a": 1 , "b" : [1,{"c":2}] }"#, #"{"q":"x\"}y","w":null}"#,
        #"{"amount":12.5,"user":"u1","t":[]}"#,
    ]
    static let fields: [[(String, JSON)]] = [
        [("big", .bool(true))],
        [("big", .bool(false)), ("cents", .double(1250.0)), ("n", .int(-3))],
        [("s", .string("q\"\\\n\u{1}é")), ("z", .null), ("d", .double(0.1)), ("m", .int(Int64.min))],
    ]

    func raw(_ text: String, index: FieldIndex? = nil) -> Event {
        let bytes = Array(text.utf8)
        let buf = ByteBuffer(capacity: bytes.count, fieldIndex: index)
        bytes.withUnsafeBytes { buf.base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        var offsets = FieldOffsets()
        if let index {
            #expect(JSONParser.validate(buf.bytes(0, bytes.count), index: index, offsets: &offsets) == nil)
        }
        var e = Event(raw: buf, start: 0, count: bytes.count, line: 7, offsets: offsets)
        e.time = 42
        e.watermark = 40
        return e
    }

    /// The members' text and where each value starts in it.
    func members(_ fields: [(String, JSON)], index: FieldIndex?) -> ([UInt8], [(slot: Int, start: Int)]) {
        var text: [UInt8] = []
        var starts: [(slot: Int, start: Int)] = []
        for (i, (k, v)) in fields.enumerated() {
            JSONWriter.writeKey(k, first: i == 0, into: &text)
            if let slot = index?.slot(of: k) { starts.append((slot, text.count)) }
            JSONWriter.write(v, into: &text)
        }
        return (text, starts)
    }

    @Test func appendedTextIsWhatThePatchedEventWrites() {
        let index = FieldIndex(["amount", "big", "cents", "s", "d", "a"])
        for object in Self.objects {
            for fields in Self.fields {
                for idx in [nil, index] {
                    var arena = ByteArena(chunkSize: 64)
                    var patched = raw(object, index: idx)
                    let source = raw(object, index: idx)
                    let appended = patched.appendNewFields(JSONObject(fields))
                    #expect(appended)
                    let (text, starts) = members(fields, index: idx)
                    let made = text.withUnsafeBytes { t in
                        starts.withUnsafeBufferPointer { source.appendingMembers(t, valueStarts: $0, arena: &arena) }
                    }
                    guard let made else {
                        Issue.record("not appended: \(object)")
                        continue
                    }
                    #expect(made.description == patched.description)
                    #expect(made.value == patched.value)
                    #expect(made.isRaw)
                    #expect((made.time, made.watermark, made.line) == (42, 40, 7))
                    for (k, v) in fields { #expect(made.field(k) == v) }
                    if let idx, let view = made.rawView(for: idx) {
                        for (k, v) in fields {
                            guard let slot = idx.slot(of: k) else { continue }
                            guard case .offset(let o) = view.offsets[slot] else {
                                Issue.record("\(k) not recorded in \(made)")
                                continue
                            }
                            #expect(JSONParser.value(at: o, in: view.bytes) == v)
                        }
                        // The original fields keep their places.
                        if let slot = idx.slot(of: "a"), case .offset(let o) = view.offsets[slot] {
                            #expect(JSONParser.value(at: o, in: view.bytes) == made.value["a"])
                        }
                    } else if idx != nil {
                        Issue.record("the appended event lost its index: \(object)")
                    }
                }
            }
        }
    }

    @Test func nonObjectsAreRefused() {
        var arena = ByteArena()
        let text = Array(#""big":true"#.utf8)
        for bad in ["[1]", "1", #""{}""#] {
            let e = raw(bad)
            let made = text.withUnsafeBytes { t in
                [(slot: Int, start: Int)]().withUnsafeBufferPointer {
                    e.appendingMembers(t, valueStarts: $0, arena: &arena)
                }
            }
            #expect(made == nil)
        }
    }

    /// Events cut from one arena keep their bytes however many follow: the arena writes
    /// only bytes it has not handed out, and a large event gets a buffer of its own.
    @Test func arenaEventsKeepTheirBytes() {
        var arena = ByteArena(chunkSize: 256)
        var made: [(Event, String)] = []
        for i in 0..<300 {
            let object = i % 7 == 0 ? #"{"long":""# + String(repeating: "x", count: i) + #""}"# : #"{"i":\#(i)}"#
            let fields: [(String, JSON)] = [
                ("n", .int(Int64(i))), ("s", .string(String(repeating: "y", count: i % 5))),
            ]
            var patched = raw(object)
            _ = patched.appendNewFields(JSONObject(fields))
            let (text, starts) = members(fields, index: nil)
            let e = text.withUnsafeBytes { t in
                starts.withUnsafeBufferPointer { raw(object).appendingMembers(t, valueStarts: $0, arena: &arena) }
            }
            if let e { made.append((e, patched.description)) } else { Issue.record("not appended: \(object)") }
        }
        for (e, expected) in made { #expect(e.description == expected) }
    }

    /// A chunk is filled again once no event holds it (the events were written and
    /// dropped), and never while one does: events kept alive keep their bytes, events
    /// made afterwards in a reused chunk have theirs.
    @Test func arenaReusesChunksNoEventHolds() {
        var arena = ByteArena(chunkSize: 256)
        let fields: [(String, JSON)] = [("n", .int(7))]
        let (text, starts) = members(fields, index: nil)
        func make(_ i: Int) -> Event? {
            text.withUnsafeBytes { t in
                starts.withUnsafeBufferPointer {
                    raw(#"{"i":\#(i)}"#).appendingMembers(t, valueStarts: $0, arena: &arena)
                }
            }
        }
        var kept: [Event] = []
        for i in 0..<4000 {
            guard let e = make(i) else {
                Issue.record("not appended: \(i)")
                continue
            }
            #expect(e.description == #"{"i":\#(i),"n":7}"#)
            // Every hundredth event is kept: its chunk must not be reused.
            if i % 100 == 0 { kept.append(e) }
        }
        for (k, e) in kept.enumerated() { #expect(e.description == #"{"i":\#(k * 100),"n":7}"#) }
    }
}

extension Event {
    /// For these tests: this raw object event with `members` appended after its last member (see
    /// ``emitAppending(to:membersUpTo:arena:into:_:)``); `valueStarts` gives, for each new
    /// field the reader indexes, its slot and where its value starts in `members`. Nil
    /// when this is not a raw object.
    func appendingMembers(
        _ members: UnsafeRawBufferPointer, valueStarts: UnsafeBufferPointer<(slot: Int, start: Int)>,
        arena: inout ByteArena
    ) -> Event? {
        guard let source = members.baseAddress, members.count > 0 else { return nil }
        var out = StepOutput()
        let done = withUnsafePointer(to: self) { me in
            Event.emitAppending(to: me, membersUpTo: members.count, arena: &arena, into: &out) { p, start, offsets in
                UnsafeMutableRawPointer(p).copyMemory(from: source, byteCount: members.count)
                for v in valueStarts { offsets.record(v.slot, offset: start + v.start) }
                return members.count
            }
        }
        return done ? out.events.first : nil
    }
}
