"""The relay's configuration section: the single source of truth for every option.

docs/relay.md explains each option; the descriptions here are what ``--check-config`` and
reviewers read. Secrets (``token``, ``password``, ``webhook_url``) may be given as
``<name>_file`` paths (Compose secrets).
"""

from __future__ import annotations

from ..core.schema import Schema

CHANNELS = ("email", "rocketchat")

_ADDRESSES: Schema = {"type": "array", "items": {"type": "string", "pattern": "@"}, "minItems": 1}

EMAIL: Schema = {
    "type": "object",
    "description": "SMTP delivery through aiosmtplib.",
    "additionalProperties": False,
    "required": ["host", "from", "to"],
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "host": {"type": "string", "minLength": 1, "description": "SMTP server name."},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
        "security": {
            "type": "string",
            "enum": ["starttls", "tls", "none"],
            "default": "starttls",
            "description": "starttls (587), tls = implicit TLS (465), none (tests only).",
        },
        "username": {"type": "string", "minLength": 1, "description": "AUTH user (optional)."},
        "password": {"type": "string", "minLength": 1, "secret": True},
        "ca_file": {"type": "string", "description": "CA bundle to verify the server with."},
        "validate_certs": {"type": "boolean", "default": True},
        "from": {"type": "string", "pattern": "@", "description": "Default sender."},
        "to": {**_ADDRESSES, "description": "Default recipients."},
        "timeout_seconds": {"type": "number", "minimum": 1, "default": 15},
    },
}

ROCKETCHAT: Schema = {
    "type": "object",
    "description": "Rocket.Chat incoming webhook (integration URL with its token).",
    "additionalProperties": False,
    "required": ["webhook_url"],
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "webhook_url": {"type": "string", "pattern": r"^https?://", "secret": True},
        "ca_file": {"type": "string", "description": "CA bundle to verify the server with."},
        "timeout_seconds": {"type": "number", "minimum": 1, "default": 10},
    },
}

ROUTE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match"],
    "properties": {
        "match": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Common labels that must all equal these values.",
        },
        "channels": {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}},
        "email_to": _ADDRESSES,
        "email_from": {"type": "string", "pattern": "@"},
    },
}

SECTION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["token"],
    "properties": {
        "state_dir": {
            "type": "string",
            "default": "/var/lib/napops/relay",
            "description": "Where the durable outbox (SQLite) lives.",
        },
        "token": {
            "type": "string",
            "minLength": 16,
            "secret": True,
            "description": "Bearer token Alertmanager sends (its http_config.authorization).",
        },
        "channels": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"email": EMAIL, "rocketchat": ROCKETCHAT},
        },
        "default_channels": {
            "type": "array",
            "items": {"type": "string", "enum": list(CHANNELS)},
            "default": list(CHANNELS),
            "description": "Channels when neither ?channels= nor a route decides.",
        },
        "routes": {"type": "array", "items": ROUTE, "default": []},
        "subject_labels": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["host", "service"],
            "description": "Common labels named in the subject after the alert name.",
        },
        "timezone": {"type": "string", "default": "Asia/Bangkok"},
        "grafana_url": {
            "type": "string",
            # only {label} placeholders: anything else would fail every render, not start-up
            "pattern": r"^(?:[^{}]|\{[A-Za-z_][A-Za-z0-9_]*\})*$",
            "description": "Link template per alert, e.g. https://grafana/d/x?var-instance={instance}",
        },
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "initial_seconds": {"type": "number", "minimum": 0.01, "default": 5},
                "max_seconds": {"type": "number", "minimum": 0.01, "default": 300},
                "multiplier": {"type": "number", "minimum": 1, "default": 2},
                "jitter": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2},
            },
        },
        "failing_note_after_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 120,
            "description": "After a channel has failed this long the other channels say so.",
        },
        "outbox": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_items": {"type": "integer", "minimum": 1, "default": 10000},
                "max_age_seconds": {"type": "number", "minimum": 1, "default": 172800},
                "dedup_window_seconds": {"type": "number", "minimum": 0, "default": 600},
                "keep_delivered_seconds": {"type": "number", "minimum": 0, "default": 86400},
            },
        },
        "watchdog": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                "window_seconds": {"type": "number", "minimum": 0.1, "default": 300},
                "check_seconds": {"type": "number", "minimum": 0.05, "default": 5},
            },
        },
    },
}
