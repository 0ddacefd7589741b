"""Use cases and the ports (typing.Protocol) they need; no frameworks, no I/O of its own."""
