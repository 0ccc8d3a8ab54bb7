# Shared typedefs of the scheduling kernels, and the resource column order.
# RES_* mirror jem.model.resources.Res; tests/kernels/test_types.py checks they agree.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from numpy cimport intp_t

ctypedef double float64_t   # fair-share scores only, never resources

cdef enum:
    RES_CPU = 0
    RES_MEM_MIB = 1
    RES_GPU = 2
    N_RES = 3           # columns from N_RES on are the config's further resources (GRES), in config order
