/// A small seeded random generator (SplitMix64), for tests whose inputs must be the same
/// on every run: a failing seed reproduces its input. Property tests should rather let
/// PropertyBased generate (and shrink) their values.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    package var state: UInt64

    package init(seed: UInt64) { state = seed }

    package init(seed: Int64) { state = UInt64(bitPattern: seed) }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<n` (`n` > 0), by plain modulo (slightly biased, and cheap).
    package mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
