"""The relay's configuration section: the single source of truth for every option.

Every option has a description and an example or a default; docs/config/relay.md is generated
from it (``napops-relay --print-config-reference``, ``make docs-config``). Secrets
(``token``, ``password``, ``webhook_url``) may be given as ``<name>_file`` paths (Compose
secrets).
"""

from __future__ import annotations

from ..core.schema import Schema

CHANNELS = ("email", "rocketchat")

_ADDRESSES: Schema = {"type": "array", "items": {"type": "string", "pattern": "@"}, "minItems": 1}

EMAIL: Schema = {
    "type": "object",
    "description": "SMTP delivery through aiosmtplib (configured when `host` is set).",
    "additionalProperties": False,
    "required": ["host", "from", "to"],
    "properties": {
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "false keeps the section but sends no email.",
        },
        "host": {
            "type": "string",
            "minLength": 1,
            "description": "SMTP server name.",
            "examples": ["smtp.np-dms.work"],
        },
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "default": 587,
            "description": "SMTP port (587 submission with STARTTLS, 465 implicit TLS).",
        },
        "security": {
            "type": "string",
            "enum": ["starttls", "tls", "none"],
            "default": "starttls",
            "description": "starttls (587), tls = implicit TLS (465), none (tests only).",
        },
        "username": {
            "type": "string",
            "minLength": 1,
            "description": "AUTH user; without it no AUTH is attempted.",
            "examples": ["alerts@np-dms.work"],
        },
        "password": {
            "type": "string",
            "minLength": 1,
            "secret": True,
            "description": "AUTH password.",
            "examples": ["password_file: /run/secrets/smtp_password"],
        },
        "ca_file": {
            "type": "string",
            "description": "CA bundle to verify the server with (default: the system's).",
            "examples": ["/etc/ssl/certs/np-dms-ca.pem"],
        },
        "validate_certs": {
            "type": "boolean",
            "default": True,
            "description": "false accepts any server certificate (tests only).",
        },
        "from": {
            "type": "string",
            "pattern": "@",
            "description": "Default sender.",
            "examples": ["napops alerts <alerts@np-dms.work>"],
        },
        "to": {
            **_ADDRESSES,
            "description": "Default recipients.",
            "examples": [["ops@np-dms.work"]],
        },
        "timeout_seconds": {
            "type": "number",
            "minimum": 1,
            "default": 15,
            "description": "Connect and command timeout of one SMTP session.",
        },
    },
}

ROCKETCHAT: Schema = {
    "type": "object",
    "description": "Rocket.Chat incoming webhook (configured when `webhook_url` is set).",
    "additionalProperties": False,
    "required": ["webhook_url"],
    "properties": {
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "false keeps the section but posts nothing.",
        },
        "webhook_url": {
            "type": "string",
            "pattern": r"^https?://",
            "secret": True,
            "description": "The integration's URL; it holds the integration token.",
            "examples": ["webhook_url_file: /run/secrets/rocketchat_webhook_url"],
        },
        "ca_file": {
            "type": "string",
            "description": "CA bundle to verify the server with (default: the system's).",
            "examples": ["/etc/ssl/certs/np-dms-ca.pem"],
        },
        "timeout_seconds": {
            "type": "number",
            "minimum": 1,
            "default": 10,
            "description": "Timeout of one post.",
        },
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
            "examples": [{"team": "db"}],
        },
        "channels": {
            "type": "array",
            "items": {"type": "string", "enum": list(CHANNELS)},
            "description": "Channels for a matching group (when the webhook gives no hint).",
            "examples": [["rocketchat"]],
        },
        "email_to": {
            **_ADDRESSES,
            "description": "Recipients for a matching group instead of the default ones.",
            "examples": [["dba@np-dms.work"]],
        },
        "email_from": {
            "type": "string",
            "pattern": "@",
            "description": "Sender for a matching group instead of the default one.",
            "examples": ["db-alerts@np-dms.work"],
        },
    },
}

SECTION: Schema = {
    "type": "object",
    "description": "The alert relay: Alertmanager webhook -> outbox -> email and Rocket.Chat.",
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
            "examples": ["token_file: /run/secrets/relay_token"],
        },
        "channels": {
            "type": "object",
            "description": "The delivery channels; each is used when configured and enabled.",
            "additionalProperties": False,
            "properties": {"email": EMAIL, "rocketchat": ROCKETCHAT},
        },
        "default_channels": {
            "type": "array",
            "items": {"type": "string", "enum": list(CHANNELS)},
            "default": list(CHANNELS),
            "description": "Channels when neither ?channels= nor a route decides.",
        },
        "routes": {
            "type": "array",
            "items": ROUTE,
            "default": [],
            "description": "Label matches that pick channels and recipients; the first wins.",
        },
        "subject_labels": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["host", "service"],
            "description": "Common labels named in the subject after the alert name.",
        },
        "timezone": {
            "type": "string",
            "default": "Asia/Bangkok",
            "description": "Time zone of the times written in messages.",
        },
        "grafana_url": {
            "type": "string",
            # only {label} placeholders: anything else would fail every render, not start-up
            "pattern": r"^(?:[^{}]|\{[A-Za-z_][A-Za-z0-9_]*\})*$",
            "description": "Link template to the Grafana panel of an alert; {label} is "
            "replaced by the alert's label value (empty when absent).",
            "examples": ["https://grafana.np-dms.work/d/hosts?var-instance={instance}"],
        },
        "retry": {
            "type": "object",
            "description": "Backoff of a failing channel: initial * multiplier^(n-1), capped.",
            "additionalProperties": False,
            "properties": {
                "initial_seconds": {
                    "type": "number",
                    "minimum": 0.01,
                    "default": 5,
                    "description": "Wait after the first failed attempt.",
                },
                "max_seconds": {
                    "type": "number",
                    "minimum": 0.01,
                    "default": 300,
                    "description": "Longest wait between attempts.",
                },
                "multiplier": {
                    "type": "number",
                    "minimum": 1,
                    "default": 2,
                    "description": "Growth of the wait after each further failure.",
                },
                "jitter": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.2,
                    "description": "Each wait is varied randomly by up to this fraction.",
                },
            },
        },
        "failing_note_after_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 30,
            "description": "A channel failing this long (and at least twice) is announced on "
            "the others, noted on their messages, and its recovery announced too.",
        },
        "outbox": {
            "type": "object",
            "description": "The durable outbox's bounds.",
            "additionalProperties": False,
            "properties": {
                "max_items": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 10000,
                    "description": "Undelivered notifications kept; beyond it posts get 503.",
                },
                "max_age_seconds": {
                    "type": "number",
                    "minimum": 1,
                    "default": 172800,
                    "description": "An undelivered item older than this is expired (counted).",
                },
                "dedup_window_seconds": {
                    "type": "number",
                    "minimum": 0,
                    "default": 600,
                    "description": "The same group content within this time is a duplicate.",
                },
                "keep_delivered_seconds": {
                    "type": "number",
                    "minimum": 0,
                    "default": 86400,
                    "description": "How long delivered items stay (for dedup and inspection).",
                },
            },
        },
        "watchdog": {
            "type": "object",
            "description": "Dead man's switch on Alertmanager's Watchdog heartbeats "
            "(docs/alerting.md has the timing arithmetic).",
            "additionalProperties": False,
            "properties": {
                "enabled": {
                    "type": "boolean",
                    "default": True,
                    "description": "Announce 'monitoring pipeline down' when heartbeats stop.",
                },
                "window_seconds": {
                    "type": "number",
                    "minimum": 0.1,
                    "default": 45,
                    "description": "No heartbeat for this long means the pipeline is down.",
                },
                "check_seconds": {
                    "type": "number",
                    "minimum": 0.05,
                    "default": 5,
                    "description": "How often the window is checked (at most every 5 s).",
                },
            },
        },
    },
}
