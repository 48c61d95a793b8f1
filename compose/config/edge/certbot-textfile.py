"""The certbot loop's report: a Prometheus text file for the node exporter's textfile collector.

certbot-loop.sh runs this after every pass. It writes ``napops_certbot.prom`` into the node
exporter's textfile directory (the agents stack's ``node-textfile`` volume, shared with the
edge stack on the same host), atomically: a temporary file in the same directory (whose name
does not end in ``.prom``, so the collector never reads it half-written) renamed over the old
one. Prometheus scrapes it from that host's node exporter (job ``node``), so it reaches the
ASUSTOR however the two boxes are placed. Series (docs/certs.md, "Renewal"):

  napops_certbot_last_run_timestamp_seconds       the end of the last pass
  napops_certbot_last_success_timestamp_seconds   the end of the last good pass (0: never)
  napops_certbot_last_run_success                 1 when the last pass succeeded
  napops_certbot_consecutive_failures             failed passes since the last good one
  napops_certbot_interval_seconds                 the loop's pause between passes
  napops_certbot_certificate_not_before_timestamp_seconds{certificate}  when the lineage's
                                                  current certificate was issued (its renewal)
  napops_certbot_certificate_not_after_timestamp_seconds{certificate}   when it expires

``certificate`` is the lineage name (a folder of certbot's live directory: bounded by
CERTBOT_DOMAINS). The previous file is the loop's memory: last success and the failure count
survive a restart of the container. Python's standard library plus ``cryptography``, which
certbot itself depends on, so it runs wherever certbot does.

Usage: certbot-textfile.py --result ok|failed --textfile PATH --live DIR --interval SECONDS
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

from cryptography import x509

PREFIX = "napops_certbot_"
SAMPLE = re.compile(r"^(napops_certbot_\w+) ([0-9.eE+-]+)$")
HELP = {
    "last_run_timestamp_seconds": "When the certbot loop last finished a pass.",
    "last_success_timestamp_seconds": "When a certbot pass last succeeded (0: never).",
    "last_run_success": "1 when the last certbot pass succeeded, 0 when it failed.",
    "consecutive_failures": "Failed certbot passes since the last good one.",
    "interval_seconds": "The certbot loop's pause between passes (CERTBOT_INTERVAL_SECONDS).",
    "certificate_not_before_timestamp_seconds": (
        "Start of validity of the lineage's current certificate: when certbot last renewed it."
    ),
    "certificate_not_after_timestamp_seconds": "End of validity of the lineage's certificate.",
}


def previous(path: Path) -> dict[str, float]:
    """The unlabelled samples of the last report (empty when there is none or it is broken)."""
    values: dict[str, float] = {}
    try:
        text = path.read_text("utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            try:
                values[m.group(1).removeprefix(PREFIX)] = float(m.group(2))
            except ValueError:
                continue
    return values


def certificates(live: Path) -> tuple[list[tuple[str, float, float]], list[str]]:
    """(lineage, not_before, not_after) of every ``live/<name>/cert.pem``, and problems."""
    found, problems = [], []
    for cert in sorted(live.glob("*/cert.pem")):
        name = cert.parent.name
        try:
            parsed = x509.load_pem_x509_certificate(cert.read_bytes())
        except (OSError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        found.append((name, _utc(parsed, "not_valid_before"), _utc(parsed, "not_valid_after")))
    return found, problems


def _utc(cert: x509.Certificate, field: str) -> float:
    """``cert.<field>_utc`` (cryptography 42+), else the naive UTC ``cert.<field>`` (older
    releases, as Debian 12's certbot runs on)."""
    aware = getattr(cert, f"{field}_utc", None)
    if aware is not None:
        return float(aware.timestamp())
    return float(getattr(cert, field).replace(tzinfo=UTC).timestamp())


def label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def render(values: dict[str, float], certs: list[tuple[str, float, float]]) -> str:
    lines = []
    for name, value in values.items():
        lines += [
            f"# HELP {PREFIX}{name} {HELP[name]}",
            f"# TYPE {PREFIX}{name} gauge",
            f"{PREFIX}{name} {number(value)}",
        ]
    for index, name in ((1, "certificate_not_before_timestamp_seconds"),
                        (2, "certificate_not_after_timestamp_seconds")):  # fmt: skip
        lines += [f"# HELP {PREFIX}{name} {HELP[name]}", f"# TYPE {PREFIX}{name} gauge"]
        for cert in certs:
            lines.append(f'{PREFIX}{name}{{certificate="{label(cert[0])}"}} {number(cert[index])}')
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # the node exporter runs as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--result", choices=["ok", "failed"], required=True)
    p.add_argument("--textfile", type=Path, required=True)
    p.add_argument("--live", type=Path, required=True)
    p.add_argument("--interval", type=float, required=True)
    args = p.parse_args(argv)
    if not args.textfile.name.endswith(".prom"):
        print(f"--textfile {args.textfile}: the collector reads only *.prom", file=sys.stderr)
        return 2
    before = previous(args.textfile)
    now = time.time()
    ok = args.result == "ok"
    values = {
        "last_run_timestamp_seconds": now,
        "last_success_timestamp_seconds": (
            now if ok else before.get("last_success_timestamp_seconds", 0.0)
        ),
        "last_run_success": 1.0 if ok else 0.0,
        "consecutive_failures": 0.0 if ok else before.get("consecutive_failures", 0.0) + 1,
        "interval_seconds": args.interval,
    }
    certs, problems = certificates(args.live)
    for problem in problems:  # the certs sidecar reports unreadable files in detail
        print(f"certificate skipped: {problem}", file=sys.stderr)
    try:
        write_atomically(args.textfile, render(values, certs))
    except OSError as exc:
        print(f"cannot write {args.textfile}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
