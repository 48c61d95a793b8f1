"""The compliance policy: which checks run, their parameters, and written waivers.

A YAML file validated against :data:`SCHEMA` (every problem reported as ``At 'path': ...``).
A waiver names a check, a service (optionally a stack), a reason and an expiry date; after
that date it stops counting and the finding says so. A new service inherits every check with
nothing to register.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from ..core.config import read_yaml
from ..core.errors import ConfigError
from ..core.schema import Schema, apply_defaults, validate
from .checks import CHECKS

_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}

PARAMS: dict[str, Schema] = {
    "capabilities": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allowed_add": {**_NAMES, "description": "Capabilities any service may add."}
        },
    },
    "sensitive_mounts": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allowed": {
                "type": "array",
                "description": "Read-only host paths a service may mount (node exporter's /proc).",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["service", "source"],
                    "properties": {"service": {"type": "string"}, "source": {"type": "string"}},
                },
            }
        },
    },
    "docker_socket": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allowed_services": {**_NAMES, "description": "Services that may mount it, read-only."}
        },
    },
    "ports_interface": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "allowed_public": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["service", "ports"],
                    "properties": {
                        "service": {"type": "string"},
                        "ports": {"type": "array", "items": {"type": ["string", "integer"]}},
                    },
                },
            }
        },
    },
    "env_secrets": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "ignore_names": _NAMES,
            "min_entropy": {"type": "number", "minimum": 0, "maximum": 8},
        },
    },
}

WAIVER: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["check", "service", "reason", "expires"],
    "properties": {
        "check": {"type": "string", "enum": sorted(CHECKS)},
        "service": {"type": "string", "minLength": 1},
        "stack": {"type": "string", "minLength": 1},
        "env": {"type": "string", "minLength": 1},
        "reason": {"type": "string", "minLength": 10},
        "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    },
}

SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "disabled": {
            "type": "array",
            "items": {"type": "string", "enum": sorted(CHECKS)},
            "default": [],
        },
        "checks": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                cid: PARAMS.get(
                    cid, {"type": "object", "additionalProperties": False, "properties": {}}
                )
                for cid in sorted(CHECKS)
            },
        },
        "waivers": {"type": "array", "items": WAIVER, "default": []},
    },
}


@dataclass(frozen=True)
class Waiver:
    check: str
    service: str
    stack: str | None
    reason: str
    expires: dt.date
    env: str | None = None

    def covers(self, check: str, service: str, stack: str, env: str = "") -> bool:
        if self.check != check or self.service != service:
            return False
        return self.stack in (None, stack) and self.env in (None, env)


@dataclass
class Policy:
    disabled: set[str] = field(default_factory=set)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)

    def waiver_for(self, check: str, service: str, stack: str, env: str = "") -> Waiver | None:
        for waiver in self.waivers:
            if waiver.covers(check, service, stack, env):
                return waiver
        return None


def parse(data: Any, where: str = "policy") -> Policy:
    """A Policy from parsed YAML; raises ConfigError listing every problem."""
    problems = [p.replace("At '", f"At '{where}:", 1) for p in validate(data, SCHEMA)]
    if isinstance(data, dict):
        for i, w in enumerate(data.get("waivers") or []):
            if isinstance(w, dict) and isinstance(w.get("expires"), str):
                try:
                    dt.date.fromisoformat(w["expires"])
                except ValueError:
                    problems.append(
                        f"At '{where}:waivers[{i}].expires': not a date: {w['expires']!r}"
                    )
    if problems:
        raise ConfigError(problems)
    full = apply_defaults(data, SCHEMA)
    return Policy(
        set(full["disabled"]),
        {k: v for k, v in full["checks"].items()},
        [
            Waiver(
                w["check"],
                w["service"],
                w.get("stack"),
                w["reason"],
                dt.date.fromisoformat(w["expires"]),
                w.get("env"),
            )
            for w in full["waivers"]
        ],
    )


def load(path: str | os.PathLike[str]) -> Policy:
    """Read and validate the policy file at ``path``; raises ConfigError."""
    return parse(read_yaml(path), str(path))
