import SluiceCore
import SluiceJSON
import SluiceSteps

/// A test-only stateful step: counts events per value of field `key` and stamps each
/// event with its key's running count (`seen`), so restored state shows in the output.
/// Saves its counts by key group, as the ``StatefulStep`` contract asks.
package final class CountingStep: StatefulStep {
    package let key: String
    package var counts: [String: Int] = [:]

    package init(key: String) { self.key = key }

    package var stateKeySource: String? { key }

    package func process(_ event: Event, into out: inout StepOutput) {
        guard case .object(var o) = event.value else { return out.emit(event) }
        let k = o[key].map { "\($0)" } ?? ""
        counts[k, default: 0] += 1
        let seen = JSON.int(Int64(counts[k] ?? 0))
        if let i = o.index(of: "seen") {
            o.replaceValue(at: i, with: seen)
        } else {
            o.appendUnchecked(key: "seen", value: seen)
        }
        out.emit(Event(.object(o), time: event.time, line: event.line))
    }

    static func group(_ k: String) -> Int {
        let v: JSON = (try? JSONParser.parse(Array(k.utf8))) ?? .string(k)
        return KeyGroups.group(ofHash: JSONKeyHash.hash(v))
    }

    package func snapshotState() throws(StateError) -> StepState {
        var byGroup: [Int: StateWriter] = [:]
        for (k, n) in counts.sorted(by: { $0.key < $1.key }) {
            byGroup[Self.group(k), default: StateWriter()].write(k)
            byGroup[Self.group(k), default: StateWriter()].write(n)
        }
        return StepState(version: 1, groups: byGroup.mapValues(\.bytes))
    }

    package func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        counts = [:]
        for part in parts {
            guard part.version == 1 else { throw StateError("counting state version \(part.version)") }
            for (g, bytes) in part.groups where owns(g) {
                var r = StateReader(bytes)
                while !r.isAtEnd { counts[try r.readString()] = try r.readInt() }
            }
        }
    }
}

/// Keeps a count it cannot save: neither stateless nor a ``StatefulStep``.
package final class OpaqueCountStep: Step {
    var n = 0
    package init() {}
    package func process(_ event: Event, into out: inout StepOutput) {
        n += 1
        out.emit(event)
    }
}

extension StepRegistry {
    /// The standard steps plus `count: FIELD` (``CountingStep``) and `opaque: {}`
    /// (``OpaqueCountStep``), for checkpoint tests.
    package static var withCheckpointTestSteps: StepRegistry {
        var r = StepRegistry.standard
        r.register(
            StepDefinition(kind: "count", summary: "counts events per key (tests)") { sc in
                guard let key = sc.spec.config.text else { return nil }
                return { CountingStep(key: key) }
            })
        r.register(
            StepDefinition(kind: "opaque", summary: "keeps state it cannot save (tests)") { _ in { OpaqueCountStep() } }
        )
        return r
    }
}
