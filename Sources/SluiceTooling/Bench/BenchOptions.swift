/// What `sluice bench` runs: the flags of the command, for ``Pipeline/bench(_:)``.
package struct BenchOptions: Sendable {
    /// Input name to file path (`-` is stdin); the key `""` binds the only input.
    package var inputs: [String: String] = [:]
    /// Events for every `generate` input (overrides its `count`); a generator without
    /// a count runs ``defaultGenerateCount`` events.
    package var events: Int?
    /// Events run first in a separate, unmeasured run (0: none).
    package var warmup = 0
    /// Partitions of every keyed stream, as `sluice run --parallelism`.
    package var parallelism: Int?
    /// No bindings, the generators' own counts, no warm-up.
    /// Checkpoint the measured run into this directory (`--checkpoint-dir`), every
    /// `checkpointInterval` seconds.
    package var checkpointDirectory: String?
    package var checkpointInterval: Double?
    package init() {}

    /// Events of a `generate` input that has no `count` when `events` is not given.
    package static let defaultGenerateCount = 1_000_000
}
