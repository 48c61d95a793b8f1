"""Entry point of the compliance sidecar: hardening audit of running containers, vulnerability
reports, drift; results as metrics, and a gate (``napops audit``) before anything runs."""

from __future__ import annotations

import glob
import logging
import re
import threading
import time
from typing import Any

from ..core import sidecar
from ..core.errors import ConfigError, NapopsError
from ..core.jobs import RunContext
from ..core.schema import Schema
from . import health, runtime, trivy
from . import policy as policymod
from .audit import audit, failures
from .metrics import ComplianceMetrics

log = logging.getLogger(__name__)

SECTION: Schema = {
    "type": "object",
    "description": "The compliance auditor.",
    "additionalProperties": False,
    "required": ["policy_file"],
    "properties": {
        "policy_file": {
            "type": "string",
            "minLength": 1,
            "description": "The policy (checks, parameters, waivers): compose/policy.yml.",
            "examples": ["/etc/napops/policy.yml"],
        },
        "env": {
            "type": "string",
            "description": "The environment the audited engine runs, so waivers limited to "
            "an environment (`env:` in the policy) apply to its containers.",
            "examples": ["prod"],
        },
        "audit_schedule": {
            "type": "string",
            "format": "cron",
            "default": "*/5 * * * *",
            "description": "When the runtime audit of every running container runs.",
            "examples": ["*/15 * * * *"],
        },
        "drift": {
            "type": "object",
            "description": "Drift of the running containers from their Compose files.",
            "additionalProperties": False,
            "required": ["expected_file"],
            "properties": {
                "expected_file": {
                    "type": "string",
                    "description": "The rendered models, saved by `napops drift --env ENV "
                    "--save-expected FILE` where the repository is (the image has no Compose).",
                    "examples": ["/etc/napops/expected-prod.json"],
                },
                "schedule": {
                    "type": "string",
                    "format": "cron",
                    "default": "*/10 * * * *",
                    "description": "When drift is checked.",
                    "examples": ["0 * * * *"],
                },
            },
        },
        "health": {
            "type": "object",
            "description": "The health of each running container of the estate's Compose "
            "projects, read from the engine every few seconds and exported as "
            "napops_compliance_container_health_status (alert ContainerUnhealthy).",
            "additionalProperties": False,
            "properties": {
                "interval_seconds": {
                    "type": "number",
                    "minimum": 1,
                    "default": 15,
                    "description": "Seconds between two readings (one list call and one "
                    "inspect per container).",
                    "examples": [15],
                },
                "projects": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "default": ["napops-.+", "stacks"],
                    "description": "Regular expressions, one of which a container's Compose "
                    "project must match in full for it to be reported: the estate's own "
                    "projects (`napops-<env>-<stack>`, and `stacks` for the stacks without a "
                    "`name:`), so that nothing else run on the engine adds series.",
                    "examples": [["napops-prod-.+", "stacks"]],
                },
            },
        },
        "vulnerabilities": {
            "type": "object",
            "description": "Where Trivy results come from.",
            "additionalProperties": False,
            "properties": {
                "schedule": {
                    "type": "string",
                    "format": "cron",
                    "default": "30 1 * * *",
                    "description": "When reports are read or images scanned.",
                    "examples": ["0 */6 * * *"],
                },
                "report_files": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": [],
                    "description": "Globs of Trivy JSON reports (SchemaVersion 2).",
                    "examples": [["/var/lib/napops/trivy/*.json"]],
                },
                "trivy": {
                    "type": "string",
                    "description": "The Trivy CLI to scan running images with (omit: files only).",
                    "examples": ["/usr/local/bin/trivy"],
                },
                "server": {
                    "type": "string",
                    "format": "url",
                    "description": "A Trivy server the CLI runs against in client mode.",
                    "examples": ["http://trivy:4954"],
                },
            },
        },
    },
}


def setup(ctx: sidecar.Context) -> None:
    section = ctx.section
    try:
        policymod.load(section["policy_file"])  # a broken policy stops the start, not an audit
    except ConfigError as exc:
        raise ConfigError([f"At 'compliance.policy_file': {p}" for p in exc.problems]) from None
    health_conf = section.get("health", {})
    try:
        projects = re.compile(
            "|".join(f"(?:{p})" for p in health_conf.get("projects", ["napops-.+", "stacks"]))
        )
    except re.error as exc:
        raise ConfigError(
            [f"At 'compliance.health.projects': not a regular expression: {exc}"]
        ) from None
    engine = ctx.engine()
    metrics = ComplianceMetrics(ctx.registry)

    def audit_runtime(run: RunContext) -> dict[str, Any]:
        try:
            policy = policymod.load(section["policy_file"])
            found = runtime.workloads(engine)
            for w in found:
                w.env = section.get("env", "")
        except (ConfigError, NapopsError) as exc:
            metrics.audit_failed.labels("runtime").set(1)
            metrics.errors.labels("runtime").inc()
            raise NapopsError(str(exc)) from None
        findings = audit(found, policy)
        metrics.snapshot.findings = findings
        metrics.audit_failed.labels("runtime").set(0)
        metrics.last_audit.labels("runtime").set(time.time())
        bad = failures(findings)
        run.log.info(
            "audited %d containers: %d failures",
            len(found),
            len(bad),
            extra={"event": "audit_done", "containers": len(found), "failures": len(bad)},
        )
        return {"containers": len(found), "failures": len(bad)}

    def scan_vulnerabilities(run: RunContext) -> dict[str, Any]:
        conf = section.get("vulnerabilities", {})
        results: dict[str, trivy.ImageVulns] = {}
        problems: list[str] = []
        paths = sorted({p for g in conf.get("report_files", []) for p in glob.glob(g)})
        for path in paths:
            try:
                v = trivy.read_file(path)
            except trivy.ReportError as exc:
                problems.append(str(exc))
                continue
            if v.image not in results or v.scanned_at > results[v.image].scanned_at:
                results[v.image] = v
        if conf.get("trivy"):
            images = sorted({w.image for w in runtime.workloads(engine)})
            for i, image in enumerate(images):
                run.progress(i, len(images), "images")
                try:
                    results[image] = trivy.scan(image, conf["trivy"], server=conf.get("server"))
                except (NapopsError, trivy.ReportError) as exc:
                    problems.append(f"{image}: {exc}")
        metrics.snapshot.vulns = results
        metrics.audit_failed.labels("vulnerabilities").set(1 if problems else 0)
        if problems:
            metrics.errors.labels("vulnerabilities").inc(len(problems))
            for problem in problems:
                run.log.warning(
                    "vulnerability report problem: %s", problem, extra={"event": "report_bad"}
                )
        else:
            metrics.last_audit.labels("vulnerabilities").set(time.time())
        return {"images": len(results), "failed": problems}

    def check_drift(run: RunContext) -> dict[str, Any]:
        from .drift_io import engine_drift, load_models

        try:
            diffs = engine_drift(engine, load_models(section["drift"]["expected_file"]))
        except NapopsError as exc:
            metrics.audit_failed.labels("drift").set(1)
            metrics.errors.labels("drift").inc()
            raise NapopsError(str(exc)) from None
        counts: dict[str, int] = {}
        for d in diffs:
            counts[f"{d.project}/{d.service}"] = counts.get(f"{d.project}/{d.service}", 0) + 1
            run.log.warning(
                "drift %s/%s: %s: %s",
                d.project,
                d.service,
                d.field,
                d.detail,
                extra={"event": "drift", "project": d.project, "service": d.service},
            )
        metrics.snapshot.drift = counts
        metrics.audit_failed.labels("drift").set(0)
        metrics.last_audit.labels("drift").set(time.time())
        return {"differences": len(diffs), "services": len(counts)}

    ctx.add_job("audit", audit_runtime, schedule=section["audit_schedule"])
    if "drift" in section:
        ctx.add_job("drift", check_drift, schedule=section["drift"]["schedule"])
    ctx.add_job(
        "vulnerabilities",
        scan_vulnerabilities,
        schedule=section.get("vulnerabilities", {}).get("schedule", "30 1 * * *"),
        overlap="queue",
    )
    ctx.on_start.append(lambda: _first_audit(ctx))

    stop = threading.Event()

    def read_health() -> None:
        try:
            found = health.read(engine, projects)
        except NapopsError as exc:
            # nothing stale is reported as current: the series go away, the audit kind fails
            metrics.snapshot.health = []
            metrics.audit_failed.labels("health").set(1)
            metrics.errors.labels("health").inc()
            log.warning("container health not read: %s", exc, extra={"event": "health_failed"})
            return
        metrics.snapshot.health = found
        metrics.audit_failed.labels("health").set(0)
        metrics.last_audit.labels("health").set(time.time())

    def watch_health() -> None:
        while not stop.is_set():
            read_health()
            stop.wait(float(health_conf.get("interval_seconds", 15)))

    ctx.on_start.append(
        lambda: threading.Thread(target=watch_health, name="health", daemon=True).start()
    )
    ctx.on_shutdown.append(stop.set)


def _first_audit(ctx: sidecar.Context) -> None:
    """Audit once at start, so the metrics are not empty until the first scheduled run."""
    ctx.jobs.trigger("audit", trigger="start")


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("compliance", SECTION, setup, argv)
