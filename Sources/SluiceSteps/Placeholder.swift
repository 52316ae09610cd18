// SluiceSteps
