"""Unit tests of the pure domain: examples and hypothesis properties, no I/O."""
