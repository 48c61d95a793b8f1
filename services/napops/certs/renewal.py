"""The edge's certbot loop writes a status file after every pass (certbot-loop.sh); this
reads it. Format: ``key=value`` lines, ``last_run``, ``last_success`` (epoch seconds, 0:
never), ``consecutive_failures`` and ``result`` (ok or failed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenewalStatus:
    path: str
    readable: bool
    last_run: float = 0.0
    last_success: float = 0.0
    consecutive_failures: int = 0
    detail: str = ""


def parse(path: str, text: str) -> RenewalStatus:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    try:
        return RenewalStatus(
            path,
            True,
            float(values.get("last_run", 0)),
            float(values.get("last_success", 0)),
            int(values.get("consecutive_failures", 0)),
        )
    except ValueError as exc:
        return RenewalStatus(path, False, detail=f"unparsable: {exc}")


def read_status(path: str) -> RenewalStatus:
    try:
        with open(path, encoding="utf-8") as fh:
            return parse(path, fh.read(65536))
    except OSError as exc:
        return RenewalStatus(path, False, detail=exc.strerror or str(exc))
