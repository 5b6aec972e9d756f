"""`make bench`: the portal under production settings and load, against a stand-in issuer.

Not part of the test suite; see docs/benchmark.md.
"""
