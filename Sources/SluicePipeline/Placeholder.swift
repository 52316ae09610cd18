// SluicePipeline
