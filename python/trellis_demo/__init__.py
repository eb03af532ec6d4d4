"""Demo LLM-gateway traffic for trellis: a generator with scenarios and its lineage oracle.

Not part of the product: installed by the `[demo]` extra (and `[dev]`), used
by `trellis demo`, `trellis generate`, the tests and the benchmarks.
"""
