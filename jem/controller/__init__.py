"""The controller: gRPC servers, the job lifecycle, node health and the scheduling loop."""
