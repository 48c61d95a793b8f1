"""napops: the operations layer for NAP-DMS."""

__version__ = "0.1.0"
