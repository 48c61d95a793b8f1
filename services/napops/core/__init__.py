"""What every napops sidecar shares: configuration, logging, the HTTP app, the audit trail."""
