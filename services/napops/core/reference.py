"""The configuration reference, generated from a schema (the one source of truth).

``napops-<sidecar> --print-config-reference`` prints it; docs/config/<sidecar>.md holds the
same text and a test fails when the two differ. :func:`undocumented` lists options that lack
a description or an example, so a new option cannot ship without them.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Schema


def _type(schema: Schema) -> str:
    types = schema.get("type", "any")
    name = " or ".join(types) if isinstance(types, list) else str(types)
    if name == "array" and "items" in schema:
        name = f"list of {_type(schema['items'])}"
    if "format" in schema:
        name += f" ({schema['format']})"
    return name


def _value(value: Any) -> str:
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _rows(schema: Schema, path: str) -> list[str]:
    rows: list[str] = []
    for key, sub in schema.get("properties", {}).items():
        p = f"{path}.{key}" if path else key
        if sub.get("secret"):
            p += f" (or {key}_file)"
        needed = key in schema.get("required", [])
        notes = []
        if "default" in sub:
            notes.append(f"default {_value(sub['default'])}")
        elif needed:
            notes.append("**required**")
        if "enum" in sub:
            notes.append("one of " + ", ".join(_value(v) for v in sub["enum"]))
        for bound, word in (("minimum", "at least"), ("maximum", "at most")):
            if bound in sub:
                notes.append(f"{word} {sub[bound]}")
        if sub.get("secret"):
            notes.append("secret")
        examples = ", ".join(_value(v) for v in sub.get("examples", []))
        desc = " ".join(str(sub.get("description", "")).split())
        rows.append(f"| `{p}` | {_type(sub)} | {'; '.join(notes)} | {desc} | {examples} |")
        for child, child_path in _nested(sub, p):
            rows += _rows(child, child_path)
    return rows


def _nested(schema: Schema, path: str) -> list[tuple[Schema, str]]:
    """The object schemas inside ``schema`` with their paths: its own properties, the
    entries of a map (``path.<name>``, from ``additionalProperties``) and a list's items
    (``path[]``)."""
    out: list[tuple[Schema, str]] = []
    if "properties" in schema:
        out.append((schema, path))
    entry = schema.get("additionalProperties")
    if isinstance(entry, dict) and "properties" in entry:
        out.append((entry, path + ".<name>"))
    item = schema.get("items", {})
    if "properties" in item:
        out.append((item, path + "[]"))
    return out


def markdown(schema: Schema, title: str) -> str:
    """The reference of every option of ``schema`` as a Markdown table."""
    lines = [
        f"# {title}: configuration reference",
        "",
        "Generated from the schema by `" + title + " --print-config-reference`; do not edit.",
        "Any option can be set from the environment as `NAPOPS__SECTION__KEY=value`; a secret",
        "may be given as `<name>_file: /run/secrets/<name>`.",
        "",
        "| option | type | constraints | description | example |",
        "|---|---|---|---|---|",
        *_rows(schema, ""),
        "",
    ]
    return "\n".join(lines)


def undocumented(schema: Schema, path: str = "") -> list[str]:
    """Dotted paths of leaf options without a description or without an example."""
    out: list[str] = []
    for key, sub in schema.get("properties", {}).items():
        p = f"{path}.{key}" if path else key
        if not sub.get("description"):
            out.append(f"{p}: no description")
        nested = _nested(sub, p)
        for child, child_path in nested:
            out += undocumented(child, child_path)
        if not nested and not sub.get("examples") and "default" not in sub:
            out.append(f"{p}: no example")
    return out
