// `StepHarness` and `compileStep` live in SluiceTestSupport; re-exported here so that
// every file of this target sees them without importing it.
@_exported import SluiceTestSupport
