"""Cython scheduling kernels over numpy arrays. No I/O, no clock, no gRPC."""
