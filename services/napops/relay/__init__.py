"""The relay sidecar."""
