"""The deploy sidecar."""
