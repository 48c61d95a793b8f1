"""Trivy JSON reports (SchemaVersion 2): vulnerability counts per image and severity.

Reports come from files (a CI job or a cron'd ``trivy image -f json -o ...`` writes them) or
from the Trivy CLI when one is configured (``trivy image --format json --quiet IMAGE``, run
through core.commands). Trivy cannot run on the development machines; the CLI path is
tested with a stand-in executable that prints a real recorded report.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import commands
from ..core.errors import NapopsError

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


class ReportError(NapopsError):
    """A report is unreadable or not a Trivy SchemaVersion 2 report."""


@dataclass
class ImageVulns:
    image: str
    scanned_at: float  # unix time of the report's CreatedAt
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    fixable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    ids: set[str] = field(default_factory=set)  # CVE ids, to tell new findings


def parse(data: Any, where: str = "report") -> ImageVulns:
    """Counts from one parsed report; raises ReportError naming what is wrong."""
    if not isinstance(data, dict):
        raise ReportError(f"{where}: not a JSON object")
    if data.get("SchemaVersion") != 2:
        raise ReportError(f"{where}: SchemaVersion is {data.get('SchemaVersion')!r}, expected 2")
    image = data.get("ArtifactName")
    if not isinstance(image, str) or not image:
        raise ReportError(f"{where}: no ArtifactName")
    created = data.get("CreatedAt")
    try:
        scanned = dt.datetime.fromisoformat(str(created))
    except ValueError:
        raise ReportError(f"{where}: CreatedAt {created!r} is not a time") from None
    if scanned.tzinfo is None:
        scanned = scanned.replace(tzinfo=dt.UTC)
    result = ImageVulns(image, scanned.timestamp())
    results = data.get("Results") or []
    if not isinstance(results, list):
        raise ReportError(f"{where}: Results is not a list")
    seen: set[tuple[str, str, str]] = set()
    for i, res in enumerate(results):
        for vuln in (res or {}).get("Vulnerabilities") or []:
            if not isinstance(vuln, dict) or "VulnerabilityID" not in vuln:
                raise ReportError(f"{where}: Results[{i}] has a vulnerability without an id")
            key = (
                vuln["VulnerabilityID"],
                str(vuln.get("PkgName")),
                str(vuln.get("InstalledVersion")),
            )
            if key in seen:
                continue
            seen.add(key)
            sev = str(vuln.get("Severity", "UNKNOWN")).upper()
            sev = sev if sev in SEVERITIES else "UNKNOWN"
            result.counts[sev] += 1
            if vuln.get("FixedVersion"):
                result.fixable[sev] += 1
            result.ids.add(
                f"{sev}:{vuln['VulnerabilityID']}:{'fix' if vuln.get('FixedVersion') else ''}"
            )
    return result


def read_file(path: str | Path) -> ImageVulns:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON: {exc}") from None
    return parse(data, str(path))


def scan(
    image: str, trivy: str = "trivy", timeout: float = 900, server: str | None = None
) -> ImageVulns:
    """Run the Trivy CLI on ``image`` (client mode when ``server`` is given)."""
    argv = [trivy, "image", "--format", "json", "--quiet"]
    if server:
        argv += ["--server", server]
    result = commands.run([*argv, image], timeout=timeout, reasons={1: "scan failed"})
    try:
        data = json.loads(result.stdout)
    except ValueError as exc:
        raise ReportError(f"trivy output for {image}: not JSON: {exc}") from None
    return parse(data, f"trivy {image}")
