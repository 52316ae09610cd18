// SluiceCEL
