"""Findings for people (a table), for programs (JSON) and for code-scanning tools (SARIF 2.1.0)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .audit import Finding
from .checks import CHECKS

_ORDER = {"fail": 0, "waived": 1, "pass": 2, "n/a": 3}


def table(findings: Iterable[Finding], show_pass: bool = False) -> str:
    rows = [
        f
        for f in sorted(
            findings, key=lambda f: (_ORDER[f.result], f.env, f.stack, f.service, f.check)
        )
        if show_pass or f.result in ("fail", "waived")
    ]
    head = ("RESULT", "CHECK", "CIS", "[ENV/]STACK/SERVICE", "REASON / WAIVER")
    lines = [
        (
            f.result.upper(),
            f.check,
            f.cis or "-",
            "/".join(x for x in (f.env, f.stack, f.service) if x),
            f.reason
            if f.result == "fail"
            else f"{f.waiver} (until {f.waiver_expires})"
            if f.result == "waived"
            else f.reason,
        )
        for f in rows
    ]
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(4)]
    out = ["  ".join(h.ljust(widths[i]) if i < 4 else h for i, h in enumerate(head))]
    for r in lines:
        out.append("  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(r)))
    return "\n".join(out)


def summary(findings: list[Finding]) -> str:
    counts = {
        r: sum(1 for f in findings if f.result == r) for r in ("fail", "waived", "pass", "n/a")
    }
    return ", ".join(f"{n} {r}" for r, n in counts.items())


def as_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], indent=2)


def sarif(findings: Iterable[Finding]) -> str:
    rules = [
        {
            "id": c.id,
            "name": c.id,
            "shortDescription": {"text": c.title},
            "properties": {"cis": c.cis} if c.cis else {},
        }
        for c in CHECKS.values()
    ]
    results = []
    for f in findings:
        if f.result not in ("fail", "waived"):
            continue
        item = {
            "ruleId": f.check,
            "level": "error" if f.result == "fail" else "note",
            "message": {"text": f"{f.stack}/{f.service}: {f.reason}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f"compose/stacks/{f.stack}.yml"}
                    },
                    "logicalLocations": [{"name": f.service, "kind": "service"}],
                }
            ],
        }
        if f.result == "waived":
            item["suppressions"] = [{"kind": "external", "justification": f.waiver}]
        results.append(item)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {"tool": {"driver": {"name": "napops-compliance", "rules": rules}}, "results": results}
        ],
    }
    return json.dumps(doc, indent=2)
