"""``napops certs check [--json]``: one probe round here, the table for a person.

Exit status: 0 everything verifies and has more than ``critical_days`` left, 1 anything is
expired, invalid, inside the critical window, or could not be probed; 2 configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..core import config as configmod
from ..core.errors import ConfigError
from .probe import Prober, ProbeResult
from .schema import SECTION

DAY = 86400.0


def state_of(
    result: ProbeResult, cert_index: int | None, section: dict[str, Any], now: float
) -> str:
    """ok, warning, critical, expired, invalid or failed (the probe itself)."""
    if cert_index is None:
        return "failed"
    cert = result.certs[cert_index]
    left = cert.info.seconds_left(now)
    if left <= 0:
        return "expired"
    if cert.verification != "ok":
        return "invalid"
    if left < float(section["critical_days"]) * DAY:
        return "critical"
    if left < float(section["warning_days"]) * DAY:
        return "warning"
    return "ok"


def rows(results: list[ProbeResult], section: dict[str, Any], now: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in results:
        if not r.certs:
            out.append(
                {
                    "target": r.target,
                    "kind": r.kind,
                    "state": "failed",
                    "probe": r.reason,
                    "detail": r.detail,
                }
            )
        for i, c in enumerate(r.certs):
            out.append(
                {
                    "target": r.target,
                    "kind": r.kind,
                    "state": state_of(r, i, section, now),
                    "probe": r.reason,
                    "days_left": round(c.info.seconds_left(now) / DAY, 1),
                    "not_after": time.strftime("%Y-%m-%d %H:%M", time.gmtime(c.info.not_after)),
                    "subject_cn": c.info.subject_cn,
                    "issuer_cn": c.info.issuer_cn,
                    "serial": c.info.serial,
                    "verification": c.verification,
                    "acme": c.acme,
                }
            )
    return out


def table(lines: list[dict[str, Any]]) -> str:
    cols = ("state", "target", "days_left", "not_after", "verification", "subject_cn", "issuer_cn")
    cells = [
        [str(line.get(c, line.get("detail", "") if c == "verification" else "")) for c in cols]
        for line in lines
    ]
    for cell, line in zip(cells, lines, strict=True):
        if line["state"] == "failed":
            cell[4] = f"probe failed: {line['probe']} ({line.get('detail', '')})"
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    out = [fmt.format(*cols).rstrip()]
    out += [fmt.format(*row).rstrip() for row in cells]
    return "\n".join(out)


BAD = ("expired", "invalid", "critical", "failed")


def check(args: argparse.Namespace) -> int:
    schema = configmod.common_schema("certs", SECTION)
    try:
        config = configmod.load(schema, args.config or os.environ.get("NAPOPS_CONFIG"))
    except ConfigError as exc:
        print("napops: invalid configuration of certs:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    section = config["certs"]
    prober = Prober(section)
    rnd = prober.round()
    now = prober.clock()
    lines = rows(rnd.results, section, now)
    bad = [line for line in lines if line["state"] in BAD]
    if args.json:
        print(json.dumps({"ok": not bad, "certificates": lines}))
    else:
        print(table(lines) if lines else "no targets configured")
        summary = f"{len(lines)} certificates/targets, {len(bad)} need attention"
        print(summary if bad else f"{len(lines)} certificates/targets, all fine")
    return 1 if bad else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    certs = sub.add_parser("certs", help="TLS certificates watched by the certs sidecar")
    csub = certs.add_subparsers(dest="certs_command", required=True)
    chk = csub.add_parser(
        "check",
        help="probe every configured certificate now and print a table",
        description="Exit 0 all fine, 1 anything expired, invalid, inside critical_days or "
        "not probed, 2 configuration.",
    )
    chk.add_argument("--config", default=None, help="the sidecar's YAML (default $NAPOPS_CONFIG)")
    chk.add_argument("--json", action="store_true", help="machine-readable rows")
    chk.set_defaults(handler=check)
