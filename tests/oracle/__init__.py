"""Plain-Python reference implementations of the jem._core kernels, used only as test oracles.

Code under jem/ never imports these; tests and benchmarks do.
"""
