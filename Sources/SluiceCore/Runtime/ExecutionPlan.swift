/// How a ``Dataflow`` runs, decided once from its graph alone: no threads, rings or
/// events, so each choice can be read, and tested, apart from the code that carries it
/// out (``Execution``).
///
/// The choices, each explained where it is made:
/// - fusion (``fusedPartitioners(_:)``): a partitioner fed by one source port runs on the
///   source's thread, hashing keys where the events were read;
/// - dealing by load (``dealingPartitioners(_:fused:)``): a fused partitioner of
///   stateless steps deals whole numbered batches to the least loaded partition, and the
///   sinks it feeds put them back in order;
/// - direct writes (``directSinks(_:)``): JSON-text sinks fed by the main outputs of
///   several streams are written by those streams under the sink's lock, with no thread
///   or ring of their own;
/// - encoding (``encodesOutput(_:node:)``): a stream whose main output goes to a sink
///   shared with other stages encodes its events as JSON text itself, in parallel;
/// - checkpoints (`checkpointing`): no dealing by load and no direct writes. Both let
///   several stages write one sink without passing through a stage of the sink's own,
///   so no one place sees a barrier from every producer and could record the sink's
///   length between checkpoint N's output and the next; with every sink on its own
///   thread, the sink aligns barriers like any stage (docs/checkpoints.md).
@usableFromInline package struct ExecutionPlan {
    /// Partitioners that run on the thread of their source, by node index: the source
    /// and the source port feeding them.
    @usableFromInline package let fused: [Int: (source: Int, port: Int)]
    /// Fused partitioners that deal batches by load.
    @usableFromInline package let dealers: Set<Int>
    /// Sinks that write dealt batches in their numbers' order.
    @usableFromInline package let sequencedSinks: Set<Int>
    /// Sinks written under their lock by the streams feeding them (the direct sinks and
    /// the sequenced ones); they get no thread and no ring.
    @usableFromInline package let sharedSinks: Set<Int>
    /// Streams that encode their main output as JSON text.
    @usableFromInline package let encoding: Set<Int>
    /// The edges that get a ring, as indices into the flow's edges: all but the edge into
    /// a fused partitioner (the source writes its partitions' rings) and the edges into
    /// shared sinks (written directly).
    @usableFromInline package let ringEdges: [Int]

    @usableFromInline package init(_ flow: Dataflow, checkpointing: Bool = false) {
        let fused = Self.fusedPartitioners(flow)
        self.fused = fused
        if checkpointing {
            (dealers, sequencedSinks) = ([], [])
        } else {
            (dealers, sequencedSinks) = Self.dealingPartitioners(flow, fused: fused)
        }
        let shared = checkpointing ? [] : Self.directSinks(flow).union(sequencedSinks)
        sharedSinks = shared
        var encoding = Set<Int>()
        for (i, node) in flow.nodes.enumerated() {
            if case .stream = node.kind, Self.encodesOutput(flow, node: i) { encoding.insert(i) }
        }
        self.encoding = encoding
        ringEdges = flow.edges.indices.filter { k in
            let e = flow.edges[k]
            return fused[e.to.index]?.source != e.from.index && !shared.contains(e.to.index)
        }
    }

    /// True when node `index` runs on a thread of its own: every node but fused
    /// partitioners and shared sinks.
    @usableFromInline package func ownsThread(_ index: Int) -> Bool {
        fused[index] == nil && !sharedSinks.contains(index)
    }

    /// True when stream `node` should encode its main output as JSON text
    /// (``Event/encoded(_:)``): everything reading it is a sink that writes JSON text,
    /// and one of those sinks has other inputs too (the partitions of a keyed stream, or
    /// a fan-in). A sink is one thread; left to it, the encoding of every stage it serves
    /// would run one after another. A sink fed by one stream encodes itself, in parallel
    /// with that stream.
    static func encodesOutput(_ flow: Dataflow, node: Int) -> Bool {
        let outs = flow.edges.filter { $0.from.index == node && $0.port == Dataflow.mainPort }
        guard !outs.isEmpty else { return false }
        var shared = false
        for e in outs {
            guard case .sink(let sink) = flow.nodes[e.to.index].kind, sink.writesJSONText else { return false }
            if flow.edges.contains(where: { $0.to.index == e.to.index && $0.from.index != node }) { shared = true }
        }
        return shared
    }

    /// Sinks that the streams feeding them write to directly, under the sink's lock,
    /// instead of through rings to a thread of the sink's own: JSON-text sinks fed only by
    /// the main outputs of two or more streams, each of which sends its main output only
    /// to such sinks (the partitions of a keyed stream writing to stdout, say). Each
    /// stream then encodes its batch into its own buffer, in parallel with the others,
    /// and hands the sink the finished lines: no thread, no ring hop, no per-batch buffer
    /// or event array, and nothing allocated on one core and freed on another.
    static func directSinks(_ flow: Dataflow) -> Set<Int> {
        var sinks = Set<Int>()
        for (k, node) in flow.nodes.enumerated() {
            guard case .sink(let sink) = node.kind, sink.writesJSONText else { continue }
            let ins = flow.edges.filter { $0.to.index == k }
            let fromStreamsMain = ins.allSatisfy { e in
                guard case .stream = flow.nodes[e.from.index].kind else { return false }
                return e.port == Dataflow.mainPort
            }
            if ins.count >= 2 && fromStreamsMain { sinks.insert(k) }
        }
        // A stream writes directly only if every reader of its main output is such a
        // sink; a sink stays direct only if all its producers do.
        var changed = true
        while changed {
            changed = false
            for k in Array(sinks) {
                let producers = Set(flow.edges.filter { $0.to.index == k }.map(\.from.index))
                let ok = producers.allSatisfy { p in
                    flow.edges.filter { $0.from.index == p && $0.port == Dataflow.mainPort }.allSatisfy {
                        sinks.contains($0.to.index)
                    }
                }
                if !ok {
                    sinks.remove(k)
                    changed = true
                }
            }
        }
        return sinks
    }

    /// Fused partitioners (`fused`) that deal batches by load, and the sinks that put
    /// their partitions' output back in order. A partitioner deals when it was added with
    /// `dealsByLoad` and every port of each of its partitions that anything reads goes only
    /// to JSON-text sinks fed by nothing but that same port of its partitions: those sinks
    /// can restore the order, as no other producer's output comes between.
    static func dealingPartitioners(
        _ flow: Dataflow, fused: [Int: (source: Int, port: Int)]
    ) -> (dealers: Set<Int>, sequenced: Set<Int>) {
        var dealers = Set<Int>()
        var sequenced = Set<Int>()
        for (p, _) in fused {
            guard case .partition(_, _, deals: true) = flow.nodes[p].kind else { continue }
            let workers = Set(flow.edges.filter { $0.from.index == p }.map(\.to.index))
            var sinks = Set<Int>()
            var ok = true
            for w in workers {
                guard case .stream = flow.nodes[w].kind, flow.edges.filter({ $0.to.index == w }).count == 1 else {
                    ok = false
                    break
                }
                for e in flow.edges where e.from.index == w {
                    guard case .sink(let sink) = flow.nodes[e.to.index].kind, sink.writesJSONText,
                        flow.edges.allSatisfy({
                            $0.to.index != e.to.index || (workers.contains($0.from.index) && $0.port == e.port)
                        })
                    else {
                        ok = false
                        break
                    }
                    sinks.insert(e.to.index)
                }
                if !ok { break }
            }
            if ok {
                dealers.insert(p)
                sequenced.formUnion(sinks)
            }
        }
        return (dealers, sequenced)
    }

    /// Partitioners that run on the thread of the source feeding them, by node index:
    /// the source and its port. A partitioner qualifies when its only input is one
    /// source port that feeds nothing else, and each of its ports feeds one node. Hashing
    /// a key on the thread that read the event saves a thread and a ring hop per batch,
    /// which on a small machine is the difference between two workers scaling or not.
    static func fusedPartitioners(_ flow: Dataflow) -> [Int: (source: Int, port: Int)] {
        var fused: [Int: (source: Int, port: Int)] = [:]
        for (i, node) in flow.nodes.enumerated() {
            guard case .partition(_, let count, _) = node.kind else { continue }
            let ins = flow.edges.filter { $0.to.index == i }
            guard ins.count == 1, case .source = flow.nodes[ins[0].from.index].kind else { continue }
            let source = ins[0].from.index
            let port = ins[0].port
            guard flow.edges.filter({ $0.from.index == source && $0.port == port }).count == 1 else { continue }
            let outs = flow.edges.filter { $0.from.index == i }
            guard outs.count == count, Set(outs.map(\.port)) == Set(0..<count) else { continue }
            fused[i] = (source, port)
        }
        return fused
    }
}
