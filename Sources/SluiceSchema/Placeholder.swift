// SluiceSchema
