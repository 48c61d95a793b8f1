"""The certs sidecar's configuration section: the single source of truth for every option.

docs/certs.md explains how the options fit together.
"""

from __future__ import annotations

from ..core.schema import Schema

STARTTLS = ("smtp", "imap", "postgres")

_TIMEOUT: Schema = {
    "type": "number",
    "minimum": 0.1,
    "maximum": 300,
    "description": "Seconds one probe of this target may take in all (connect, STARTTLS, "
    "handshake); overrides timeout_seconds.",
    "examples": [5],
}

ENDPOINT: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["target"],
    "description": "A TLS endpoint whose served certificate chain is checked.",
    "properties": {
        "target": {
            "type": "string",
            "minLength": 1,
            "description": "host:port, or [IPv6]:port. An IP address needs server_name. The "
            "series label is [starttls://]target[/server_name when not the host].",
            "examples": ["dms.np-dms.work:443", "mail.np-dms.work:587", "[2001:db8::1]:443"],
        },
        "server_name": {
            "type": "string",
            "minLength": 1,
            "description": "SNI name sent and the name the certificate must be valid for "
            "(default: the target's host name).",
            "examples": ["dms.np-dms.work"],
        },
        "starttls": {
            "type": "string",
            "enum": list(STARTTLS),
            "description": "Upgrade a plain connection first: SMTP (EHLO, STARTTLS), IMAP "
            "(a001 STARTTLS) or PostgreSQL (SSLRequest).",
            "examples": ["smtp"],
        },
        "timeout_seconds": _TIMEOUT,
    },
}

FILES: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "description": "PEM files (one certificate each) found by a path or a glob.",
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "A file, or a glob (** for any depth). A glob that matches nothing "
            "is reported as a failed source.",
            "examples": ["/etc/letsencrypt/live/*/cert.pem", "/certs/registry/domain.crt"],
        },
        "contents": {
            "type": "string",
            "enum": ["certificate", "chain", "bundle"],
            "default": "certificate",
            "description": "certificate: exactly one certificate (several is an error); "
            "chain: the leaf first, then its intermediates (certbot's fullchain.pem), verified "
            "as a chain; bundle: every certificate reported on its own (a CA bundle).",
        },
        "server_name": {
            "type": "string",
            "minLength": 1,
            "description": "Also check that the certificate is valid for this name.",
            "examples": ["registry.np-dms.work"],
        },
    },
}

MODULE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "description": "How /probe connects to an ad-hoc target.",
    "properties": {
        "starttls": {**ENDPOINT["properties"]["starttls"]},
        "timeout_seconds": _TIMEOUT,
    },
}

SECTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "description": "The certs sidecar: TLS endpoints and PEM files whose certificates are "
    "watched (expiry, verification). certbot reports its renewals itself (node exporter).",
    "properties": {
        "schedule": {
            "type": "string",
            "format": "cron",
            "default": "* * * * *",
            "description": "When a probe round runs (cron, sidecar time zone). /metrics serves "
            "the last round's results; a round also runs at start.",
        },
        "timeout_seconds": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 300,
            "default": 10,
            "description": "Default per-target probe timeout: a hanging target costs this much.",
        },
        "concurrency": {
            "type": "integer",
            "minimum": 1,
            "maximum": 512,
            "default": 32,
            "description": "Targets probed at the same time.",
        },
        "trust_store": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": ["/etc/ssl/certs/ca-certificates.crt"],
            "description": "PEM bundles of trusted roots; verification uses only these.",
        },
        "warning_days": {
            "type": "number",
            "minimum": 0,
            "default": 21,
            "description": "`napops certs check`: fewer days left is a warning.",
        },
        "critical_days": {
            "type": "number",
            "minimum": 0,
            "default": 7,
            "description": "`napops certs check`: fewer days left fails the check (exit 1).",
        },
        "acme_issuers": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": ["^[RE][0-9]+$", "^Pebble Intermediate CA"],
            "description": "Regular expressions on the issuer CN of certificates that the "
            "ACME automation renews (label acme=\"true\"): Let's Encrypt's R10/E5..., Pebble.",
        },
        "endpoints": {
            "type": "array",
            "items": ENDPOINT,
            "default": [],
            "description": "TLS endpoints to probe.",
        },
        "files": {
            "type": "array",
            "items": FILES,
            "default": [],
            "description": "PEM files and globs to read.",
        },
        "modules": {
            "type": "object",
            "additionalProperties": MODULE,
            "default": {
                "tls": {},
                "smtp_starttls": {"starttls": "smtp"},
                "imap_starttls": {"starttls": "imap"},
                "postgres_starttls": {"starttls": "postgres"},
            },
            "description": "Modules of /probe?target=host:port&module=NAME (blackbox style).",
        },
    },
}
