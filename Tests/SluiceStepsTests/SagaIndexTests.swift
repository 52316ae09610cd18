import PropertyBased
import SluiceJSON
import Testing

@testable import SluiceSteps

/// ``SagaIndex`` against a dictionary: random starts and forgets of ids, some of them
/// colliding on purpose (few distinct ids, and ids of different JSON kinds).
@Suite struct SagaIndexTests {
    static let ids: [JSON] =
        (0..<40).map { JSON.string("o\($0)") } + (0..<10).map { JSON.int(Int64($0)) } + [
            .double(2.5), .bool(true), .null, .string("é"), .array([.int(1)]), .object(JSONObject([("a", .int(1))])),
        ]

    @Test func behavesAsADictionary() async {
        let op = zip(Gen.int(in: 0...(Self.ids.count - 1)), Gen.bool(0.4))
        await propertyCheck(count: 200, input: op.array(of: 0...400)) { ops in
            var index = SagaIndex()
            var slots: [JSON?] = []
            var reference: [JSON: Int] = [:]
            for (i, forget) in ops {
                let id = Self.ids[i]
                let hash = SagaIndex.hash(id)
                let found = index.find(hash: hash) { slots[$0] == id }
                #expect(found == reference[id])
                if let s = found, forget {
                    index.remove(hash: hash, slot: s)
                    slots[s] = nil
                    reference[id] = nil
                } else if found == nil {
                    let s = slots.count
                    slots.append(id)
                    index.insert(hash: hash, slot: s)
                    reference[id] = s
                }
                #expect(index.count == reference.count)
            }
            for id in Self.ids {
                #expect(index.find(hash: SagaIndex.hash(id)) { slots[$0] == id } == reference[id])
            }
        }
    }
}
