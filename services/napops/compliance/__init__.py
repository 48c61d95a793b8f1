"""The compliance sidecar."""
