// SluiceRegex
