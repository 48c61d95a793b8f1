"""Metric names the stack exports, from the sources that cannot run as processes here.

- catalogue/<exporter>.txt: exporters that cannot run here (cAdvisor, MongoDB, and the
  database exporters without their databases), each file naming its upstream source.
- The napops sidecars: each one is built in-process (``napops.core.sidecar.build``) with a
  minimal configuration, and what its /metrics serves is listed (samples, and gauges declared
  without samples yet, e.g. per-certificate series filled by the first probe round).
- Recording rules of prometheus/rules: their ``record:`` names are series too.

The running components (Prometheus, Alertmanager, node and blackbox exporters) are asked
directly, see real_stack.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from helpers import ROOT, SIDECARS

CATALOGUE = Path(__file__).resolve().parent / "catalogue"
SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def catalogue_files() -> list[Path]:
    return sorted(CATALOGUE.glob("*.txt"))


def catalogue_names(path: Path) -> set[str]:
    """Series names listed in one catalogue file (histograms and summaries expanded)."""
    names: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *kind = line.split()
        names.update(name + s for s in SUFFIXES.get(kind[0] if kind else "", ("",)))
    return names


def recording_rule_names(rules_dir: Path = ROOT / "prometheus" / "rules") -> set[str]:
    """``record:`` names of every rules file of the project (none yet is fine)."""
    names: set[str] = set()
    for path in sorted(rules_dir.glob("**/*.y*ml")) if rules_dir.is_dir() else []:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            continue
        for group in data.get("groups") or []:
            names.update(r["record"] for r in group.get("rules") or [] if "record" in r)
    return names


def minimal_config(service: str, section_schema: Any, state: Path) -> dict[str, Any]:
    """The least configuration each sidecar starts with (no network peer is contacted).

    Only keys the sidecar's schema declares are kept, so this follows a schema that grows.
    """
    section: dict[str, Any] = {}
    if service == "relay":
        section = {
            "state_dir": str(state),
            "token": "t" * 32,
            # A closed port on loopback: building the sidecar must not deliver anything.
            "channels": {"rocketchat": {"webhook_url": "http://127.0.0.1:9/hooks/test"}},
        }
    if service == "compliance":
        section = {"policy_file": str(ROOT / "compose" / "policy.yml")}
    if service == "deploy":
        # one service in one environment: its napops_deploy_* series are declared at start
        section = {
            "services": {"backend": {"stack": "apps"}},
            "environments": {"prod": {"edge": {"project": "napops-prod-edge"}}},
        }
    if service == "backup":
        # one declared item: its napops_backup_* series are exported before it first runs
        section = {"items": [{"service": "mariadb", "strategy": "mariadb", "container": "db"}]}
    declared = (section_schema or {}).get("properties", {})
    section = {k: v for k, v in section.items() if k in declared}
    return {service: section} if section else {}


def sidecar_names(state_root: Path, services: Iterable[str] = SIDECARS) -> dict[str, set[str]]:
    """Series names of each sidecar's registry, built as the sidecar builds it."""
    from napops.core import config as configmod
    from napops.core import sidecar
    from napops.core.errors import ConfigError

    found: dict[str, set[str]] = {}
    for service in services:
        module = importlib.import_module(f"napops.{service}.main")
        section = getattr(module, "SECTION", None)
        state = state_root / service
        state.mkdir(parents=True, exist_ok=True)
        config_path = state / "config.yml"
        config_path.write_text(yaml.safe_dump(minimal_config(service, section, state)))
        try:
            config = configmod.load(configmod.common_schema(service, section), config_path, {})
        except ConfigError as exc:
            raise AssertionError(
                f"the {service} sidecar needs more configuration; extend minimal_config() in "
                f"{__file__}:\n" + "\n".join(exc.problems)
            ) from None
        ctx = sidecar.build(service, section, config, getattr(module, "setup", None))
        try:
            # what its /metrics serves (the certs sidecar joins series formatted once per
            # round to its registry's)
            body = ctx.app.test_client().get("/metrics").get_data(as_text=True)
            families = list(text_string_to_metric_families(body))
            found[service] = {s.name for m in families for s in m.samples}
            # Gauges a sidecar declares but fills only after its first job run (the certs
            # sidecar's per-certificate series, the compliance audit's): declared, so exported.
            found[service] |= {m.name for m in families if m.type == "gauge" and not m.samples}
        finally:
            for hook in ctx.on_shutdown:
                hook()
    return found
