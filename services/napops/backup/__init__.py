"""The backup sidecar."""
