import SluiceCEL
import SluiceJSON

/// What a match's path through the shared buffer stands for: the object of captures
/// (a match's default output, and a timed-out match's `captures`) and the CEL bindings
/// that `emit` and conditions reading captures see (Flink materializes a match from its
/// `SharedBuffer` the same way, following the path back from the last event).
struct CaptureBuilder {
    let buffer: SharedBuffer
    /// The NFA's states, for their names and whether their capture is a list.
    let states: [PatternNFA.State]
    /// The capture names when no step is a list (see ``singleCaptures(_:_:)``).
    let singleNames: [String]?
    /// The path being read, reused so that the steady state does not allocate.
    var path: [(step: Int, node: Int32)] = []

    init(buffer: SharedBuffer, nfa: PatternNFA) {
        self.buffer = buffer
        states = nfa.states
        singleNames = nfa.states.contains { $0.isList } ? nil : nfa.states.map(\.name)
    }

    /// The object of captures of the path ending at `node`: name → event, or list of
    /// events for `times` other than 1; steps that matched nothing (optional) are left out.
    mutating func object(_ node: Int32) -> JSON {
        if let names = singleNames, let o = singleCaptures(node, names) { return .object(o) }
        buffer.path(node, into: &path)
        var o = JSONObject(minimumCapacity: states.count)
        var i = 0
        for (j, st) in states.enumerated() {
            if !st.isList {
                // One event (or none, when optional): no array to build.
                guard i < path.count, path[i].step == j else { continue }
                let v = buffer.value(ofNode: path[i].node)
                i += 1
                while i < path.count, path[i].step == j { i += 1 }
                o.appendUnchecked(key: st.name, value: v)
                continue
            }
            var items: [JSON] = []
            while i < path.count, path[i].step == j {
                items.append(buffer.value(ofNode: path[i].node))
                i += 1
            }
            if items.isEmpty { continue }
            o.appendUnchecked(key: st.name, value: .array(items))
        }
        return .object(o)
    }

    /// ``object(_:)`` of a path that took exactly one event in each step, in order (the
    /// usual shape when no step is a list), or nil for another shape. The keys are one
    /// shared array, so only the values are allocated.
    @inline(__always)
    func singleCaptures(_ node: Int32, _ names: [String]) -> JSONObject? {
        let count = states.count
        var nd = node
        var j = count - 1
        while nd >= 0, j >= 0, buffer.step(ofNode: nd) == j {
            nd = buffer.prev(ofNode: nd)
            j -= 1
        }
        guard nd < 0, j < 0 else { return nil }
        // Two or three steps (the usual patterns) as an array literal: its storage is
        // allocated directly, where `Array(repeating:count:)` goes through the standard
        // library's unspecialized allocation and looks up the storage class's metadata
        // at run time (about 700 instructions a match).
        let values: [JSON]
        switch count {
        case 2:
            let second = buffer.value(ofNode: node)
            values = [buffer.value(ofNode: buffer.prev(ofNode: node)), second]
        case 3:
            let third = buffer.value(ofNode: node)
            let p = buffer.prev(ofNode: node)
            let second = buffer.value(ofNode: p)
            values = [buffer.value(ofNode: buffer.prev(ofNode: p)), second, third]
        default:
            var v = [JSON](repeating: .null, count: count)
            v.withUnsafeMutableBufferPointer { v in
                nd = node
                for i in stride(from: count - 1, through: 0, by: -1) {
                    v[i] = buffer.value(ofNode: nd)
                    nd = buffer.prev(ofNode: nd)
                }
            }
            values = v
        }
        return JSONObject(uniqueKeys: names, values: values)
    }

    /// Captures of the path ending at `node` as CEL values: steps before `target` (and
    /// `target` itself when it is a list), skipped single steps as null, lists as lists.
    mutating func bindings(_ node: Int32, through target: Int) -> [String: CELValue] {
        buffer.path(node, into: &path)
        var lists = Array(repeating: [CELValue](), count: states.count)
        for (step, nd) in path { lists[step].append(buffer.celValue(ofNode: nd)) }
        var b: [String: CELValue] = [:]
        for (j, st) in states.enumerated() where j < target || (j == target && st.isList) {
            b[st.name] = st.isList ? .list(lists[j]) : (lists[j].first ?? .null)
        }
        return b
    }
}
