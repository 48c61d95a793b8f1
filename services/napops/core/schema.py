"""A small JSON-Schema subset that reports *every* problem as ``At 'path': message``.

Supported keywords: type, properties, required, additionalProperties, items, enum,
minimum, maximum, minLength, minItems, pattern, format, default, description, examples. A
property marked ``"secret": True`` may instead be given as ``<name>_file`` (see
:mod:`napops.core.config`). ``format`` checks values at load time: ``timezone`` (an IANA
name this system knows), ``cron`` (5 fields), ``url`` (http or https with a host).
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def _fmt(path: str) -> str:
    return path or "<root>"


def validate(value: Any, schema: Schema, path: str = "") -> list[str]:
    """Return every problem of ``value`` against ``schema``; an empty list means valid."""
    problems: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in names):
            kind = type(value).__name__ if value is not None else "null"
            problems.append(f"At '{_fmt(path)}': expected {' or '.join(names)}, got {kind}")
            return problems
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        problems.append(f"At '{_fmt(path)}': {value!r} is not one of {allowed}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"At '{_fmt(path)}': {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"At '{_fmt(path)}': {value} is more than {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"At '{_fmt(path)}': shorter than {schema['minLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"At '{_fmt(path)}': {value!r} does not match {schema['pattern']}")
        if "format" in schema:
            problem = check_format(value, schema["format"])
            if problem:
                problems.append(f"At '{_fmt(path)}': {problem}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"At '{_fmt(path)}': needs at least {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        problems += _validate_object(value, schema, path)
    return problems


def _validate_object(value: dict[str, Any], schema: Schema, path: str) -> list[str]:
    problems: list[str] = []
    props: dict[str, Schema] = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            problems.append(f"At '{_join(path, key)}': required but missing")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = _join(path, str(key))
        if key in props:
            problems += validate(item, props[key], sub)
        elif extra is False:
            known = ", ".join(sorted(props)) or "none"
            problems.append(f"At '{sub}': unknown key (known keys: {known})")
        elif isinstance(extra, dict):
            problems += validate(item, extra, sub)
    return problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Return a copy of ``value`` with every missing property that has a default filled in.

    Objects with defaults for some of their properties are created when missing, so
    ``config["listen"]["port"]`` works even when ``listen`` was not written at all.
    """
    if isinstance(value, dict) and schema.get("type") in ("object", None):
        out = dict(value)
        for key, sub in schema.get("properties", {}).items():
            if key in out:
                out[key] = apply_defaults(out[key], sub)
            elif "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            elif sub.get("type") == "object" and _has_defaults(sub):
                out[key] = apply_defaults({}, sub)
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(v, schema["items"]) for v in value]
    return value


def _has_defaults(schema: Schema) -> bool:
    return any("default" in s for s in schema.get("properties", {}).values())


def secret_paths(schema: Schema, path: str = "") -> list[str]:
    """Dotted paths of every property marked ``secret`` (``[]`` marks list items)."""
    out: list[str] = []
    for key, sub in schema.get("properties", {}).items():
        p = _join(path, key)
        if sub.get("secret"):
            out.append(p)
        out += secret_paths(sub, p)
        if "items" in sub:
            out += secret_paths(sub["items"], p + "[]")
    return out


def check_format(value: str, fmt: str) -> str | None:
    """A reason when ``value`` is not of format ``fmt``; None when it is."""
    if fmt == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return f"{value!r} is not a time zone this system knows (e.g. Asia/Bangkok, UTC)"
        return None
    if fmt == "cron":
        from .jobs import JobError, cron_trigger

        try:
            cron_trigger(value, "UTC")
        except JobError as exc:
            return str(exc)
        return None
    if fmt == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"{value!r} is not an http(s) URL with a host"
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            return f"{value!r} has an invalid port"
        return None
    raise ValueError(f"unknown format {fmt!r}")
