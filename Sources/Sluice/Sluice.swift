// The public library. `import Sluice` re-exports the engine's modules, whose public
// declarations are the embedding API of docs/embedding.md (compile, run, push input,
// async outputs, custom steps, diagnostics, JSON values); everything else in them is
// `package`, visible to the CLI (and SluiceTooling) and the tests but not to embedders.
@_exported import SluiceCEL
@_exported import SluiceConnectors
@_exported import SluiceCore
@_exported import SluiceJSON
@_exported import SluicePipeline
@_exported import SluiceSteps

/// The Sluice version, printed by `sluice version`.
public let sluiceVersion = "0.1.0"
