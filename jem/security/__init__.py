"""Credentials and keys: who a caller is, which daemon is which, what a user asked to run.

- `keys`: Ed25519 signing keys and the public key sets that verify them (by key id, reloaded on change).
- `tokens`: signed claims as compact JWS (PyJWT, EdDSA): authd tokens, job signatures, launch credentials.
- `digest`: the digests of a job and a step that users sign.
- `authd`: the credential service (`jem authd`) and its client.
- `munge`: MUNGE credentials through libmunge.
- `ca`, `tls`: the cluster CA, certificates, and gRPC TLS credentials.

Imports model and the standard libraries for the job (cryptography, PyJWT); no grpc
except in `tls`, which builds grpc credentials and reads a peer's certificate.
"""
