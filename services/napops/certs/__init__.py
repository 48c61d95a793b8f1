"""The certs sidecar."""
