"""Cython kernels: the scheduling ones over numpy arrays, and two for the client side that need no
numpy (`wire`: a listing's records from serialized protobuf into columns; `jsonrows`: rows of JSON
text from columns). No I/O, no clock, no gRPC."""
