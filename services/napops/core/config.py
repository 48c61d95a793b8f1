"""Configuration: one YAML file, environment overrides, secrets from ``*_file`` paths.

Order of precedence: schema defaults < YAML file < environment. An environment variable
``NAPOPS__A__B=value`` sets ``a.b`` (the value is read as a YAML scalar, so ``5`` is an
integer and ``true`` a boolean). A property the schema marks ``secret`` may be given as
``<name>_file: /run/secrets/x`` (or ``NAPOPS__..._FILE``): the file's content, less a
trailing newline, becomes the value. Every problem is collected and raised at once.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .schema import Schema, apply_defaults, secret_paths, validate

ENV_PREFIX = "NAPOPS__"
REDACTED = "***"

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def common_schema(service: str, section: Schema | None = None) -> Schema:
    """The schema every sidecar shares, with the sidecar's own ``section`` under its name."""
    props: dict[str, Schema] = {
        "listen": {
            "type": "object",
            "description": "Where the HTTP server listens.",
            "additionalProperties": False,
            "properties": {
                "host": {
                    "type": "string",
                    "default": "127.0.0.1",
                    "minLength": 1,
                    "description": "Address to bind (the image sets 0.0.0.0).",
                    "examples": ["0.0.0.0"],
                },
                "port": {
                    "type": "integer",
                    "default": 8000,
                    "minimum": 1,
                    "maximum": 65535,
                    "description": "TCP port of /metrics, /healthz, /readyz and the API.",
                    "examples": [8000],
                },
            },
        },
        "log_level": {
            "type": "string",
            "enum": LOG_LEVELS,
            "default": "INFO",
            "description": "Lowest level written to the JSON log on stdout.",
            "examples": ["DEBUG"],
        },
        "max_body_bytes": {
            "type": "integer",
            "minimum": 1,
            "default": 1 << 20,
            "description": "Larger request bodies get 413.",
            "examples": [262144],
        },
        "timezone": {
            "type": "string",
            "format": "timezone",
            "default": "Asia/Bangkok",
            "description": "Time zone of job schedules and of times written in messages.",
            "examples": ["UTC"],
        },
        "state_dir": {
            "type": "string",
            "minLength": 1,
            "default": f"/var/lib/napops/{service}",
            "description": "Where the sidecar keeps state that must survive a restart "
            "(locks, job history, its own files).",
            "examples": [f"/var/lib/napops/{service}"],
        },
        "shutdown_grace_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 30,
            "description": "On SIGTERM, how long a running job may take to finish before it "
            "is recorded as interrupted.",
            "examples": [60],
        },
        "api": {
            "type": "object",
            "description": "The sidecar's HTTP API (POST /jobs/<name>/run).",
            "additionalProperties": False,
            "properties": {
                "token": {
                    "type": "string",
                    "minLength": 16,
                    "secret": True,
                    "description": "Bearer token that may trigger jobs over HTTP; without it, "
                    "jobs run only on schedule and from the CLI.",
                    "examples": ["token_file: /run/secrets/napops_api_token"],
                },
            },
        },
        "audit": {
            "type": "object",
            "description": "The hash-chained audit trail that state-changing actions append to.",
            "additionalProperties": False,
            "required": ["path", "key"],
            "properties": {
                "path": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The JSONL trail file.",
                    "examples": ["/var/lib/napops/audit/audit.jsonl"],
                },
                "key": {
                    "type": "string",
                    "minLength": 16,
                    "secret": True,
                    "description": "HMAC key that signs every record.",
                    "examples": ["key_file: /run/secrets/audit_key"],
                },
            },
        },
        "docker": engine_schema(
            "How to reach a Docker Engine (unix://, tcp:// or ssh://).",
            host_description="Engine address; default $DOCKER_HOST, else the local socket.",
            host_examples=["ssh://napops@qnap", "tcp://socket-proxy:2375"],
            timeout_default=10,
            tls_file_prefix="docker",
        ),
    }
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    if section is not None:
        props[service] = section
        if section.get("required"):
            # a section with required keys cannot be left out: without this an empty file
            # would pass --check-config and then fail at start on the first missing key
            schema["required"] = [service]
    return schema


def engine_schema(
    description: str,
    *,
    host_description: str,
    host_examples: list[str],
    timeout_default: float,
    tls_file_prefix: str,
) -> Schema:
    """How to reach one Docker Engine: the sidecars' ``docker`` section, deploy's per
    environment ``docker``; ``tls_file_prefix`` names the example TLS files."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": {
            "host": {
                "type": "string",
                "pattern": r"^(unix|tcp|ssh|http|https)://",
                "description": host_description,
                "examples": host_examples,
            },
            "timeout_seconds": {
                "type": "number",
                "minimum": 1,
                "default": timeout_default,
                "description": "Timeout of each Docker API call.",
                "examples": [60],
            },
            "tls": {
                "type": "object",
                "description": "Client-certificate TLS for a tcp:// engine.",
                "additionalProperties": False,
                "required": ["ca_file", "cert_file", "key_file"],
                "properties": {
                    "ca_file": {
                        "type": "string",
                        "description": "CA that signed the engine's certificate.",
                        "examples": [f"/run/secrets/{tls_file_prefix}_ca.pem"],
                    },
                    "cert_file": {
                        "type": "string",
                        "description": "Client certificate.",
                        "examples": [f"/run/secrets/{tls_file_prefix}_cert.pem"],
                    },
                    "key_file": {
                        "type": "string",
                        "description": "Client private key.",
                        "examples": [f"/run/secrets/{tls_file_prefix}_key.pem"],
                    },
                },
            },
        },
    }


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``NAPOPS__A__B=v`` variables into the nested mapping ``{"a": {"b": v}}``."""
    out: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = _scalar(environ[name])
    return out


def _scalar(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) else text


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML mapping; raises ConfigError naming the file on any problem."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"At '{where}': cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"At '{where}': invalid YAML{pos}: {reason}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"At '{where}': expected a mapping at the top level"])
    return data


def _resolve_secret_files(data: Any, schema: Schema, path: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        if isinstance(data, list) and "items" in schema:
            return [
                _resolve_secret_files(v, schema["items"], f"{path}[{i}]", problems)
                for i, v in enumerate(data)
            ]
        return data
    props = schema.get("properties", {})
    out = dict(data)
    for key, sub in props.items():
        file_key = f"{key}_file"
        where = f"{path}.{file_key}" if path else file_key
        if sub.get("secret") and file_key in out:
            file_path = out.pop(file_key)
            if key in out:
                problems.append(f"At '{where}': give either {key} or {file_key}, not both")
                continue
            if not isinstance(file_path, str):
                problems.append(f"At '{where}': expected a file path")
                continue
            try:
                out[key] = Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                problems.append(f"At '{where}': cannot read secret file {file_path!r}: {reason}")
        elif key in out:
            out[key] = _resolve_secret_files(
                out[key], sub, f"{path}.{key}" if path else key, problems
            )
    return out


def load(
    schema: Schema,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Load, merge, resolve secrets, validate and fill defaults.

    Raises ConfigError with every problem found, never a partial configuration.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = read_yaml(path) if path else {}
    data = deep_merge(data, env_overrides(environ))
    problems: list[str] = []
    data = _resolve_secret_files(data, schema, "", problems)
    problems += validate(data, schema)
    if problems:
        raise ConfigError(problems)
    result: dict[str, Any] = apply_defaults(data, schema)
    return result


def secrets_of(config: Mapping[str, Any], schema: Schema) -> list[str]:
    """Every secret value present in ``config`` (so logging can scrub them)."""
    found: list[str] = []
    for dotted in secret_paths(schema):
        found += [v for v in _values_at(config, dotted.split(".")) if isinstance(v, str) and v]
    return found


def _values_at(node: Any, keys: list[str]) -> list[Any]:
    if not keys:
        return [node]
    key, rest = keys[0], keys[1:]
    if key.endswith("[]"):
        items = node.get(key[:-2], []) if isinstance(node, dict) else []
        return [v for item in items for v in _values_at(item, rest)]
    if isinstance(node, dict) and key in node:
        return _values_at(node[key], rest)
    return []


def redacted(config: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """A copy of ``config`` with every secret replaced by ``***`` (safe to log or print)."""
    out = copy.deepcopy(dict(config))
    for dotted in secret_paths(schema):
        _redact_at(out, dotted.split("."))
    return out


def _redact_at(node: Any, keys: list[str]) -> None:
    key, rest = keys[0], keys[1:]
    if key.endswith("[]"):
        for item in node.get(key[:-2], []) if isinstance(node, dict) else []:
            _redact_at(item, rest)
    elif isinstance(node, dict) and key in node:
        if rest:
            _redact_at(node[key], rest)
        else:
            node[key] = REDACTED
