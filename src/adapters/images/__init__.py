"""Inspecting untrusted image output: safe fetching and strict decoding."""
