"""The REST gateway (`jem gateway`): JSON over HTTP for portals, transcoded one-to-one onto the gRPC
API. The mapping is the protos' own `google.api.http` rules (proto/jem/v1: one definition, not two),
read from the descriptors at start (`routes`); each request becomes the method's request message and
goes to the controller with the caller's bearer token (`transcode`, `server`), so the controller alone
decides who may do what, as for any gRPC client. The OpenAPI document is made from the same
descriptors (`openapi`), served and checked in (docs/openapi.json).
"""
