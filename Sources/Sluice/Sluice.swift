// The public library: `import Sluice` gives the whole engine. The CLI is a thin client
// of exactly this surface.
@_exported import SluiceCEL
@_exported import SluiceConnectors
@_exported import SluiceCore
@_exported import SluiceJSON
@_exported import SluicePipeline
@_exported import SluiceSteps

/// The Sluice version, printed by `sluice version`.
public let sluiceVersion = "0.1.0"
