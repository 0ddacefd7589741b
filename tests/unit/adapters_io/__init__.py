"""Unit tests of the embedded-profile I/O adapters."""
