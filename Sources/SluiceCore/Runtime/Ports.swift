/// The rings a node writes, by port.
final class OutputPorts {
    var rings: [Int: [SPSCRing<Message>]]
    let names: [Int: String]
    var unread: [String: Int] = [:]
    /// A fused partitioner (see ``ExecutionPlan/fusedPartitioners(_:)``): events sent on this
    /// port go to the ring their key hash picks.
    var split: (port: Int, hash: (Event) -> UInt64)?
    /// The fused partitioner's port and the maker of its hash function, which
    /// ``startSplitting()`` calls on the thread that sends.
    var pendingSplit: (port: Int, makeHash: @Sendable () -> (Event) -> UInt64)?
    /// The fused partitioner deals numbered batches by load instead of hashing keys
    /// (``ExecutionPlan/dealingPartitioners(_:fused:)``).
    var deals = false
    /// The next dealt batch's number, and the partition to try first on a tie.
    var dealt = 0
    /// Rings into sinks (they skip watermarks).
    private let toSinks: Set<ObjectIdentifier>

    /// Makes a fused partitioner's hash function; call on the sending thread, first.
    func startSplitting() {
        if let (port, makeHash) = pendingSplit { split = (port, makeHash()) }
    }

    init(rings: [Int: [SPSCRing<Message>]], names: [Int: String], toSinks: Set<ObjectIdentifier> = []) {
        self.rings = rings
        self.names = names
        self.toSinks = toSinks
    }

    func send(_ port: Int, _ msg: Message) {
        if deals, let split, split.port == port, case .events(let events) = msg, let rs = rings[port], !rs.isEmpty {
            deal(.sequenced(events, dealt), to: rs)
            dealt += 1
            return
        }
        if let split, split.port == port, case .events(let events) = msg, let rs = rings[port], !rs.isEmpty {
            for (i, part) in Execution.partitioned(events, rs.count, split.hash).enumerated() where !part.isEmpty {
                rs[i].push(.events(part))
            }
            return
        }
        guard let rs = rings[port], !rs.isEmpty else {
            if case .events(let es) = msg {
                unread[names[port] ?? "port \(port)", default: 0] += es.count
            }
            return
        }
        for r in rs { r.push(msg) }
    }

    /// Pushes `msg` to the ring with the fewest messages queued (ties go round, starting
    /// after the last one chosen); while every ring is full, sleeps until one has room.
    /// A partition on a slower core drains its ring more slowly and so is given less.
    func deal(_ msg: Message, to rs: [SPSCRing<Message>]) {
        let parker = rs[0].producerParker
        while true {
            var best = -1
            var least = Int.max
            for k in 0..<rs.count {
                let i = (dealt + k) % rs.count
                let c = rs[i].count
                if c < least && c < rs[i].capacity {
                    least = c
                    best = i
                }
            }
            if best >= 0, rs[best].tryPush(msg) { return }
            parker.prepare()
            if rs.contains(where: { $0.count < $0.capacity }) {
                parker.cancel()
                continue
            }
            parker.park()
        }
    }

    func sendSides(_ sides: [(port: Int, event: Event)]) {
        var byPort: [Int: [Event]] = [:]
        for (p, e) in sides { byPort[p, default: []].append(e) }
        for p in byPort.keys.sorted() {
            if let es = byPort[p] { send(p, .events(es)) }
        }
    }

    /// Sends `msg` on every port. A watermark skips the rings into sinks: a sink ignores
    /// it, and pushing it would wake the sink's thread for nothing. That wake-up is not
    /// free on a busy machine: the woken thread preempts a worker (on two cores each
    /// batch's watermark cost every worker a context switch per sink).
    func broadcast(_ msg: Message) {
        if case .watermark = msg {
            for (_, rs) in rings { for r in rs where !toSinks.contains(ObjectIdentifier(r)) { r.push(msg) } }
            return
        }
        for (_, rs) in rings { for r in rs { r.push(msg) } }
    }
}

/// The rings a node reads, merged: takes whatever is ready, tracks each input's
/// watermark and end, and aligns checkpoint barriers.
///
/// Alignment: an input that delivers barrier N is held (not read) until every input
/// still open has delivered N; then the barrier is returned once, and all are read
/// again. Every producer sends barriers in order, so the held inputs all wait on the
/// same N; an input that ends while others are held no longer counts.
///
/// ```
///  input 0:  e e e |N  (held)  e e ...
///  input 1:  e e e e e e |N            ─▶ stage sees: e... e... N e...
/// ```
final class InputMerge {
    let rings: [SPSCRing<Message>]
    let parker: Parker
    var marks: [Int64]
    var ended: [Bool]
    var remaining: Int
    var next = 0
    var closed = false
    /// Inputs that delivered the barrier being aligned, and how many.
    var held: [Bool]
    var heldCount = 0
    var barrier = 0

    init(rings: [SPSCRing<Message>], parker: Parker) {
        self.rings = rings
        self.parker = parker
        marks = Array(repeating: Int64.min, count: rings.count)
        ended = Array(repeating: false, count: rings.count)
        held = Array(repeating: false, count: rings.count)
        remaining = rings.count
    }

    /// True when every open input has delivered the barrier being aligned.
    private var aligned: Bool {
        for i in rings.indices where !ended[i] && !held[i] { return false }
        return true
    }

    /// Lets every input be read again.
    private func release() {
        for i in held.indices { held[i] = false }
        heldCount = 0
    }

    /// The merged watermark: the least over inputs still open (+inf when all ended).
    var watermark: Int64 {
        var m = Int64.max
        for i in rings.indices where !ended[i] { m = min(m, marks[i]) }
        return m
    }

    func poll() -> (Int, Message)? {
        // An input that ended may have been the last one not yet at the barrier.
        if heldCount > 0 && aligned {
            release()
            return (0, .barrier(barrier))
        }
        for k in 0..<rings.count {
            let i = (next + k) % rings.count
            if ended[i] || held[i] { continue }
            if let msg = rings[i].tryPop() {
                next = (i + 1) % rings.count
                switch msg {
                case .watermark(let w): marks[i] = max(marks[i], w)
                case .end:
                    ended[i] = true
                    remaining -= 1
                case .barrier(let id):
                    held[i] = true
                    heldCount += 1
                    barrier = id
                    if aligned {
                        release()
                        return (i, msg)
                    }
                    continue
                case .events, .sequenced: break
                }
                return (i, msg)
            }
        }
        return nil
    }

    /// The next message from any input, or nil when all have ended (or ``closeAll()``
    /// was called). `onIdle` runs before the node sleeps for lack of input. With `tick`,
    /// a wait of that many nanoseconds without input returns `(-1, nil)`.
    func next(tick: UInt64? = nil, onIdle: () -> Void = {}) -> (Int, Message?)? {
        while remaining > 0 && !closed {
            if let m = poll() { return (m.0, m.1) }
            onIdle()
            // `onIdle` may have given up on the inputs (a sink whose flush failed).
            if closed { return nil }
            parker.prepare()
            if rings.indices.contains(where: { !ended[$0] && !held[$0] && rings[$0].count > 0 }) {
                parker.cancel()
            } else if let tick {
                if !parker.park(timeoutNanos: tick) { return (-1, nil) }
            } else {
                parker.park()
            }
        }
        return nil
    }

    /// Stops reading: producers will no longer wait on these rings, and ``next`` ends.
    func closeAll() {
        closed = true
        for r in rings { r.close() }
    }
}
