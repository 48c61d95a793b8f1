"""Applying the policy to workloads: one finding per workload and check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from .checks import CHECKS
from .policy import Policy
from .workload import Workload

RESULTS = ("pass", "fail", "waived", "n/a")


@dataclass(frozen=True)
class Finding:
    check: str
    cis: str
    env: str
    stack: str
    service: str
    container: str
    source: str
    result: str  # pass, fail, waived, n/a
    reason: str
    waiver: str = ""
    waiver_expires: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def audit(
    workloads: Iterable[Workload], policy: Policy, today: dt.date | None = None
) -> list[Finding]:
    """Every enabled check on every workload, with waivers applied (an expired waiver does not
    count, and the finding says it expired)."""
    today = today or dt.date.today()
    out: list[Finding] = []
    for w in workloads:
        for check in CHECKS.values():
            if check.id in policy.disabled:
                continue
            verdict = check.func(w, policy.params.get(check.id, {}))
            result, reason, note, expires = verdict.result, verdict.reason, "", ""
            if result == "fail":
                waiver = policy.waiver_for(check.id, w.name, w.stack, w.env)
                if waiver is not None:
                    expires = waiver.expires.isoformat()
                    if waiver.expires >= today:
                        result, note = "waived", waiver.reason
                    else:
                        reason = f"{reason} (waiver expired on {expires}: {waiver.reason})"
            out.append(
                Finding(
                    check.id,
                    check.cis,
                    w.env,
                    w.stack,
                    w.name,
                    w.container,
                    w.source,
                    result,
                    reason,
                    note,
                    expires,
                )
            )
    return out


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.result == "fail"]


def ratio(findings: Iterable[Finding]) -> dict[str, float]:
    """Per stack: passed or waived over applicable findings (1.0 when nothing applies)."""
    counts: dict[str, list[int]] = {}
    for f in findings:
        if f.result == "n/a":
            continue
        good, total = counts.setdefault(f.stack, [0, 0])
        counts[f.stack] = [good + (f.result in ("pass", "waived")), total + 1]
    return {stack: (g / t if t else 1.0) for stack, (g, t) in counts.items()}
