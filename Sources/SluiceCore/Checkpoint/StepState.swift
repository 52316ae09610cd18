import SluiceJSON

/// Keyed state is saved by key group: a fixed number of hash ranges, as in Flink. A key
/// belongs to group `hash % count`; at parallelism `n` copy `group * n / count` owns a
/// group, so a checkpoint taken at one parallelism restores at another by handing each
/// copy the groups it now owns (docs/checkpoints.md).
package enum KeyGroups {
    /// The number of key groups; also the largest parallelism a stream may have.
    package static let count = 256

    /// The group of a key whose hash (``JSONKeyHash``) is `hash`.
    @inline(__always)
    package static func group(ofHash hash: UInt64) -> Int { Int(truncatingIfNeeded: hash % UInt64(count)) }

    /// The copy, of `parallelism`, that owns `group`.
    @inline(__always)
    package static func owner(ofGroup group: Int, parallelism: Int) -> Int { group * parallelism / count }

    /// The copy, of `parallelism`, whose events have a key hashing to `hash`.
    @inline(__always)
    package static func owner(ofHash hash: UInt64, parallelism: Int) -> Int {
        owner(ofGroup: group(ofHash: hash), parallelism: parallelism)
    }
}

/// What a stateful step saved at a checkpoint barrier: state that belongs to no key
/// (`shared`), and keyed state by key group (`groups`), each an opaque byte string the
/// step alone reads (see ``StateWriter``).
package struct StepState: Sendable, Equatable {
    /// The step's own format version, so that a later Sluice can read or refuse it.
    package var version: Int
    /// State that belongs to no key (the step's watermark, counters, sequence numbers).
    package var shared: [UInt8]
    /// Keyed state: key group -> the step's entries for keys in that group.
    package var groups: [Int: [UInt8]]

    package init(version: Int, shared: [UInt8] = [], groups: [Int: [UInt8]] = [:]) {
        self.version = version
        self.shared = shared
        self.groups = groups
    }
}

/// A built-in step whose state survives a crash: it saves its state when a checkpoint
/// barrier passes and restores it when a run resumes from a checkpoint. Called on the
/// stage's thread, between events.
package protocol StatefulStep: Step {
    /// The text of the key the step's state is kept by (`group_by`, `key`), compared with
    /// the stream's `key`: only when they are the same does a key group name the same
    /// keys in both, so that the state can be restored at another parallelism.
    var stateKeySource: String? { get }
    /// The state as it is now, keyed entries under `KeyGroups.group(ofHash:)` of the key's `JSONKeyHash`.
    func snapshotState() throws(StateError) -> StepState
    /// Restores state saved by ``snapshotState()`` by one or several copies of this step
    /// (several, or a part of one, when the parallelism changed): keep the keyed entries
    /// of the groups `owns` accepts, and merge `shared` as the step defines (for a
    /// watermark, the least). Called once, on a freshly made step, before its first
    /// event. Counters for `--stats` in a part are taken on by the one copy that owns the
    /// part's lowest key group with entries (group 0 when it has none), so that they are
    /// counted once at any parallelism. A part of a version the step does not know, or
    /// bytes that do not read back, throw, naming the step kind.
    func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError)
}

/// Why state could not be read back.
package struct StateError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Writes state as compact bytes: unsigned LEB128 varints, zigzag signed integers,
/// doubles by bit pattern, length-prefixed strings and bytes, JSON as its text.
package struct StateWriter {
    package private(set) var bytes: [UInt8] = []
    /// Where a JSON value's text is put together before it is written with its length.
    private var scratch: [UInt8] = []

    package init() {}

    package mutating func write(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    package mutating func write(_ v: Int) { write(Int64(v)) }
    package mutating func write(_ v: Int64) { write(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
    package mutating func write(_ v: Bool) { bytes.append(v ? 1 : 0) }
    package mutating func write(_ v: Double) {
        var b = v.bitPattern.littleEndian
        withUnsafeBytes(of: &b) { bytes.append(contentsOf: $0) }
    }
    package mutating func write(_ s: String) {
        var s = s
        s.withUTF8 { u in
            write(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }
    package mutating func write(bytes b: some Collection<UInt8>) {
        write(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
    /// A JSON value, as its compact text.
    package mutating func write(_ v: JSON) {
        scratch.removeAll(keepingCapacity: true)
        JSONWriter.write(v, into: &scratch)
        write(UInt64(scratch.count))
        bytes.append(contentsOf: scratch)
    }
    /// An event held in a step's state: its JSON text as it would be written out (the
    /// original bytes when unchanged), its time, input line and watermark, so that the
    /// restored event (``StateReader/readEvent()``) is written out byte for byte the same.
    package mutating func write(event: Event) {
        scratch.removeAll(keepingCapacity: true)
        event.write(into: &scratch)
        write(UInt64(scratch.count))
        bytes.append(contentsOf: scratch)
        write(event.time)
        write(event.line)
        write(event.watermark)
    }
}

/// Reads what a ``StateWriter`` wrote; any overrun or malformed value throws.
package struct StateReader {
    private let bytes: [UInt8]
    package private(set) var offset = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The deepest nesting a JSON value or event in state may have: far beyond what the
    /// readers let in (512 by default), and bounded so that damaged state cannot make
    /// the parser recurse without end.
    package static let maxDepth = 4096

    package var isAtEnd: Bool { offset >= bytes.count }

    package mutating func readUInt() throws(StateError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw StateError("state is truncated or malformed") }
            let b = bytes[offset]
            offset += 1
            v |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
    package mutating func readInt64() throws(StateError) -> Int64 {
        let u = try readUInt()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
    package mutating func readInt() throws(StateError) -> Int { Int(try readInt64()) }
    package mutating func readBool() throws(StateError) -> Bool {
        guard offset < bytes.count else { throw StateError("state is truncated") }
        defer { offset += 1 }
        return bytes[offset] != 0
    }
    package mutating func readDouble() throws(StateError) -> Double {
        guard offset + 8 <= bytes.count else { throw StateError("state is truncated") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return Double(bitPattern: bits)
    }
    package mutating func readBytes() throws(StateError) -> ArraySlice<UInt8> {
        let n = try readUInt()
        guard n <= UInt64(bytes.count - offset) else { throw StateError("state is truncated") }
        let start = offset
        offset += Int(n)
        return bytes[start..<offset]
    }
    package mutating func readString() throws(StateError) -> String {
        String(decoding: try readBytes(), as: UTF8.self)
    }
    package mutating func readJSON() throws(StateError) -> JSON {
        let b = try readBytes()
        do {
            return try b.withUnsafeBytes { (raw) throws(JSONError) in try JSONParser.parse(raw, maxDepth: Self.maxDepth)
            }
        } catch {
            throw StateError("state holds malformed JSON: \(error)")
        }
    }
    /// An event written by ``StateWriter/write(event:)``: held as its text (checked to be
    /// JSON), so that it is written out as it was.
    package mutating func readEvent() throws(StateError) -> Event {
        let b = try readBytes()
        let buffer = b.withUnsafeBytes { ByteBuffer(copying: $0) }
        if let e = JSONParser.validate(buffer.bytes(0, b.count), maxDepth: Self.maxDepth) {
            throw StateError("state holds a malformed event: \(e)")
        }
        var event = Event(raw: buffer, start: 0, count: b.count)
        event.time = try readInt64()
        event.line = try readInt()
        event.watermark = try readInt64()
        return event
    }
    /// A count of things that follow, checked against the bytes left (each takes at least
    /// `minBytes`), so that a corrupt count cannot make a reader reserve or loop wildly.
    package mutating func readCount(minBytes: Int = 1) throws(StateError) -> Int {
        let n = try readUInt()
        guard n <= UInt64(bytes.count - offset) / UInt64(max(1, minBytes)) else {
            throw StateError("state is truncated or malformed (a count of \(n) is too large)")
        }
        return Int(n)
    }
    /// Throws unless every byte was read.
    package func finish() throws(StateError) {
        guard isAtEnd else { throw StateError("state has \(bytes.count - offset) unexpected bytes at its end") }
    }
}
