import PropertyBased
import Testing

@testable import SluiceSteps

@Suite struct FieldPositionCacheTests {
    /// Looks `key` up in `keys` with `cache`.
    static func find(_ cache: inout FieldPositionCache, _ key: String, id: Int, in keys: [String]) -> Int? {
        keys.withUnsafeBufferPointer { cache.index(of: key, id: id, utf8Count: key.utf8.count, in: $0) }
    }

    @Test func remembersWhereAFieldWasAndFollowsItWhenItMoves() {
        var cache = FieldPositionCache(capacity: 2)
        #expect(cache[0] == -1 && cache[7] == -1)
        #expect(Self.find(&cache, "b", id: 0, in: ["a", "b", "c"]) == 1)
        #expect(cache[0] == 1)
        #expect(Self.find(&cache, "b", id: 0, in: ["b", "a"]) == 0)
        #expect(Self.find(&cache, "b", id: 0, in: ["a"]) == nil)
        #expect(cache[0] == -1)
        // An id past the capacity grows the cache.
        #expect(Self.find(&cache, "c", id: 40, in: ["a", "b", "c"]) == 2)
        #expect(cache[40] == 2 && cache[0] == -1)
        #expect(Self.find(&cache, "zz", id: 100, in: ["a"]) == nil)
        #expect(cache[100] == -1)
    }

    /// Whatever the objects' key orders, a lookup finds what a scan finds (an object's
    /// keys are distinct, as a parsed object's are).
    @Test func agreesWithAScan() async {
        let names = ["a", "b", "amount", "user", "é", ""]
        // Per lookup: the object's keys (indices into `names`) and the name looked up.
        let lookups = zip(Gen.int(in: 0...5).array(of: 0...6), Gen.int(in: 0...5)).array(of: 1...30)
        await propertyCheck(input: lookups) { lookups in
            var cache = FieldPositionCache()
            for (keyIndices, n) in lookups {
                var keys: [String] = []
                for i in keyIndices where !keys.contains(names[i]) { keys.append(names[i]) }
                #expect(Self.find(&cache, names[n], id: n, in: keys) == keys.firstIndex(of: names[n]))
            }
        }
    }
}
