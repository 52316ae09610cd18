/// One consistent snapshot of a run, taken by barrier `id` (docs/checkpoints.md): where
/// each source was, what each stream stage held, and how long each output was.
package struct Checkpoint: Sendable, Equatable {
    /// Barrier number; later checkpoints have larger ones.
    package var id: Int
    /// The pipeline it belongs to (``CheckpointConfig/fingerprint``).
    package var fingerprint: String
    /// By source name.
    package var sources: [String: SourceSnapshot]
    /// By stage (node) name: `work`, or `work#1` for a copy of a keyed stream.
    package var stages: [String: StageSnapshot]
    /// By sink name: what the sink needs to resume (a file output: its length).
    package var sinks: [String: [UInt8]]

    package init(
        id: Int, fingerprint: String, sources: [String: SourceSnapshot] = [:], stages: [String: StageSnapshot] = [:],
        sinks: [String: [UInt8]] = [:]
    ) {
        self.id = id
        self.fingerprint = fingerprint
        self.sources = sources
        self.stages = stages
        self.sinks = sinks
    }

    /// The snapshots of every copy of `stream`, in copy order.
    package func stages(ofStream stream: String) -> [StageSnapshot] {
        stages.values.filter { $0.stream == stream }.sorted { $0.copy < $1.copy }
    }
}

/// Where a source was at a barrier, and the time it had stamped so far.
package struct SourceSnapshot: Sendable, Equatable {
    /// The source's own resume position (``CheckpointedSource``), or nil for a source
    /// that cannot be replayed (a generator, an embedder's input).
    package var position: [UInt8]?
    /// The greatest event time seen and the last watermark sent, so that events after a
    /// restore are stamped exactly as they would have been.
    package var maxTime: Int64
    package var watermark: Int64

    package init(position: [UInt8]?, maxTime: Int64, watermark: Int64) {
        self.position = position
        self.maxTime = maxTime
        self.watermark = watermark
    }
}

/// What one stream stage (one copy of a stream) held at a barrier.
package struct StageSnapshot: Sendable, Equatable {
    /// The stream's name, and which copy of how many this stage was.
    package var stream: String
    package var copy: Int
    package var copies: Int
    /// The stage's watermark, and the watermark of each of its inputs (in input order).
    package var watermark: Int64
    package var inputMarks: [Int64]
    /// The stream's `key:` text (nil for an unkeyed stream).
    package var keyText: String?
    /// Every step, in order.
    package var steps: [StepSnapshot]

    package init(
        stream: String, copy: Int, copies: Int, watermark: Int64, inputMarks: [Int64], keyText: String?,
        steps: [StepSnapshot]
    ) {
        self.stream = stream
        self.copy = copy
        self.copies = copies
        self.watermark = watermark
        self.inputMarks = inputMarks
        self.keyText = keyText
        self.steps = steps
    }
}

/// One step of a stage at a barrier.
package struct StepSnapshot: Sendable, Equatable {
    /// The step's id (`id:`, or derived from stream, position and kind).
    package var id: String
    package var kind: String
    /// The watermark the step had been advanced to.
    package var mark: Int64
    /// What the key of its state is (``StatefulStep/stateKeySource``).
    package var keySource: String?
    /// The state of a stateful step; nil for a stateless one.
    package var state: StepState?

    package init(id: String, kind: String, mark: Int64, keySource: String?, state: StepState?) {
        self.id = id
        self.kind = kind
        self.mark = mark
        self.keySource = keySource
        self.state = state
    }
}

// MARK: Encoding

extension StateWriter {
    mutating func write(optional s: String?) {
        write(s != nil)
        if let s { write(s) }
    }
}

extension StateReader {
    mutating func readOptionalString() throws(StateError) -> String? {
        try readBool() ? try readString() : nil
    }
}

extension SourceSnapshot {
    func encode(into w: inout StateWriter) {
        w.write(position != nil)
        if let position { w.write(bytes: position) }
        w.write(maxTime)
        w.write(watermark)
    }

    static func decode(_ r: inout StateReader) throws(StateError) -> SourceSnapshot {
        let position = try r.readBool() ? Array(try r.readBytes()) : nil
        return SourceSnapshot(position: position, maxTime: try r.readInt64(), watermark: try r.readInt64())
    }
}

extension StageSnapshot {
    /// The file form of a stage: its fields, then each step with its state.
    package func encoded() -> [UInt8] {
        var w = StateWriter()
        w.write(stream)
        w.write(copy)
        w.write(copies)
        w.write(watermark)
        w.write(inputMarks.count)
        for m in inputMarks { w.write(m) }
        w.write(optional: keyText)
        w.write(steps.count)
        for s in steps {
            w.write(s.id)
            w.write(s.kind)
            w.write(s.mark)
            w.write(optional: s.keySource)
            w.write(s.state != nil)
            if let state = s.state {
                w.write(state.version)
                w.write(bytes: state.shared)
                w.write(state.groups.count)
                for g in state.groups.keys.sorted() {
                    w.write(g)
                    w.write(bytes: state.groups[g] ?? [])
                }
            }
        }
        return w.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws(StateError) -> StageSnapshot {
        var r = StateReader(bytes)
        let stream = try r.readString()
        let copy = try r.readInt()
        let copies = try r.readInt()
        let watermark = try r.readInt64()
        let n = try r.readInt()
        guard n >= 0, n <= bytes.count else { throw StateError("stage '\(stream)': bad input count") }
        var marks: [Int64] = []
        for _ in 0..<n { marks.append(try r.readInt64()) }
        let keyText = try r.readOptionalString()
        let count = try r.readInt()
        guard count >= 0, count <= bytes.count else { throw StateError("stage '\(stream)': bad step count") }
        var steps: [StepSnapshot] = []
        for _ in 0..<count {
            let id = try r.readString()
            let kind = try r.readString()
            let mark = try r.readInt64()
            let keySource = try r.readOptionalString()
            var state: StepState?
            if try r.readBool() {
                let version = try r.readInt()
                let shared = Array(try r.readBytes())
                let groups = try r.readInt()
                guard groups >= 0, groups <= KeyGroups.count else {
                    throw StateError("step '\(id)': \(groups) key groups (at most \(KeyGroups.count))")
                }
                var byGroup: [Int: [UInt8]] = [:]
                for _ in 0..<groups {
                    let g = try r.readInt()
                    guard (0..<KeyGroups.count).contains(g) else { throw StateError("step '\(id)': key group \(g)") }
                    byGroup[g] = Array(try r.readBytes())
                }
                state = StepState(version: version, shared: shared, groups: byGroup)
            }
            steps.append(StepSnapshot(id: id, kind: kind, mark: mark, keySource: keySource, state: state))
        }
        guard r.isAtEnd else { throw StateError("stage '\(stream)': bytes after the last step") }
        return StageSnapshot(
            stream: stream, copy: copy, copies: copies, watermark: watermark, inputMarks: marks, keyText: keyText,
            steps: steps)
    }
}

extension Checkpoint {
    /// The sources' and sinks' file: each source's snapshot, then each sink's position.
    func encodedEnds() -> [UInt8] {
        var w = StateWriter()
        w.write(sources.count)
        for name in sources.keys.sorted() {
            w.write(name)
            sources[name]?.encode(into: &w)
        }
        w.write(sinks.count)
        for name in sinks.keys.sorted() {
            w.write(name)
            w.write(bytes: sinks[name] ?? [])
        }
        return w.bytes
    }

    mutating func decodeEnds(_ bytes: [UInt8]) throws(StateError) {
        var r = StateReader(bytes)
        let n = try r.readInt()
        guard n >= 0, n <= bytes.count else { throw StateError("bad source count") }
        for _ in 0..<n {
            let name = try r.readString()
            sources[name] = try SourceSnapshot.decode(&r)
        }
        let m = try r.readInt()
        guard m >= 0, m <= bytes.count else { throw StateError("bad sink count") }
        for _ in 0..<m {
            let name = try r.readString()
            sinks[name] = Array(try r.readBytes())
        }
        guard r.isAtEnd else { throw StateError("bytes after the last sink") }
    }
}

/// CRC-32 (IEEE 802.3, the one of zip and PNG) of checkpoint files.
package enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Continues `crc` (0 to start) over `bytes`.
    package static func checksum(_ bytes: some Sequence<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }
}
