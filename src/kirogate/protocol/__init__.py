"""Sans-I/O protocol core: the event-stream codec, Kiro events and the Kiro request model."""
