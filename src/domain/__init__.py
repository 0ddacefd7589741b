"""The pure core of imagegen: entities, values and rules, with no I/O and no frameworks.

Only the standard library and msgspec may be imported here; time and ids are passed in.
"""
