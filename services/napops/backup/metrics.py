"""napops_backup_* metrics, read from the state file at every scrape (so CLI runs count and a
restart loses nothing). Labels: service and kind (bounded: the declared items), result,
mode (subset or full)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .state import State

ITEM_GAUGES = (
    (
        "last_success_timestamp_seconds",
        "last_success",
        "When the item last backed up successfully (0: never).",
    ),
    ("last_attempt_timestamp_seconds", "started", "When the item's last backup started."),
    ("duration_seconds", "duration_seconds", "How long the item's last backup took."),
    ("processed_bytes", "bytes_processed", "Bytes the item's last backup read (the dump's size)."),
    ("added_bytes", "bytes_added", "Bytes the item's last backup added to the repository."),
    ("files", "files", "Files (streams) the item's last backup stored."),
)


class BackupCollector(Collector):
    """``declared`` (service, kind) pairs are exported as zeros until they first run, so a
    never-run item shows (and alerts) instead of being missing."""

    def __init__(self, state: State, declared: Sequence[tuple[str, str]] = ()):
        self.state, self.declared = state, list(declared)

    def collect(self) -> Iterator[Any]:
        data = self.state.load()
        items, drills = dict(data["items"]), dict(data["drills"])
        for service, kind in self.declared:
            key = f"{service}/{kind}"
            items.setdefault(key, {"service": service, "kind": kind, "ok": False})
            drills.setdefault(key, {"service": service, "kind": kind, "ok": False})
        verify: dict[str, Any] = {"subset": {}, "full": {}} | dict(data["verify"])
        yield from _items(items)
        yield from _drills(drills)
        yield from _verify(verify)
        yield from _repository(data["repository"])


def _items(items: dict[str, Any]) -> Iterator[Any]:
    families = {
        key: GaugeMetricFamily(f"napops_backup_{name}", doc, labels=["service", "kind"])
        for name, key, doc in ITEM_GAUGES
    }
    result = GaugeMetricFamily(
        "napops_backup_last_result",
        "1 when the item's last backup succeeded, 0 when it failed.",
        labels=["service", "kind"],
    )
    runs = CounterMetricFamily(
        "napops_backup_item_runs",
        "Finished item backups, by result.",
        labels=["service", "kind", "result"],
    )
    for entry in items.values():
        labels = [entry["service"], entry["kind"]]
        for key, family in families.items():
            family.add_metric(labels, float(entry.get(key) or 0))
        result.add_metric(labels, 1.0 if entry.get("ok") else 0.0)
        for outcome in ("success", "failed"):
            runs.add_metric([*labels, outcome], float(entry.get("runs_" + outcome, 0)))
    yield from families.values()
    yield result
    yield runs


def _drills(drills: dict[str, Any]) -> Iterator[Any]:
    last = GaugeMetricFamily(
        "napops_backup_drill_last_result",
        "1 when the item's last restore drill matched its manifest, 0 when it did not.",
        labels=["service", "kind"],
    )
    when = GaugeMetricFamily(
        "napops_backup_drill_last_timestamp_seconds",
        "When the item's last restore drill finished.",
        labels=["service", "kind"],
    )
    rows = GaugeMetricFamily(
        "napops_backup_drill_rows_compared",
        "Rows, keys, documents or files the item's last drill compared.",
        labels=["service", "kind"],
    )
    took = GaugeMetricFamily(
        "napops_backup_drill_duration_seconds",
        "How long the item's last restore drill took.",
        labels=["service", "kind"],
    )
    for entry in drills.values():
        labels = [entry["service"], entry["kind"]]
        last.add_metric(labels, 1.0 if entry.get("ok") else 0.0)
        when.add_metric(labels, float(entry.get("finished") or 0))
        rows.add_metric(labels, float(entry.get("compared") or 0))
        took.add_metric(labels, float(entry.get("duration_seconds") or 0))
    yield from (last, when, rows, took)


def _verify(verify: dict[str, Any]) -> Iterator[Any]:
    last = GaugeMetricFamily(
        "napops_backup_verify_last_result",
        "1 when the last restic check of this mode found no error, 0 when it did.",
        labels=["mode"],
    )
    when = GaugeMetricFamily(
        "napops_backup_verify_last_timestamp_seconds",
        "When the last restic check of this mode finished.",
        labels=["mode"],
    )
    for mode, entry in verify.items():
        last.add_metric([mode], 1.0 if entry.get("ok") else 0.0)
        when.add_metric([mode], float(entry.get("finished") or 0))
    yield from (last, when)


def _repository(repo: dict[str, Any]) -> Iterator[Any]:
    for name, key, doc in (
        ("size_bytes", "size_bytes", "Bytes the restic repository stores (raw data)."),
        ("free_bytes", "free_bytes", "Free bytes on the repository's filesystem."),
        ("capacity_bytes", "capacity_bytes", "Size of the repository's filesystem."),
        ("checked_timestamp_seconds", "checked", "When free space and size were last measured."),
    ):
        fam = GaugeMetricFamily(f"napops_backup_repository_{name}", doc + " NaN: not measured yet.")
        fam.add_metric([], float(repo[key]) if key in repo else math.nan)
        yield fam
    stale = CounterMetricFamily(
        "napops_backup_stale_locks_removed",
        "Stale restic locks (holder dead) removed before a run.",
    )
    stale.add_metric([], float(repo.get("stale_locks_removed", 0)))
    yield stale


def register(
    registry: CollectorRegistry, state: State, declared: Sequence[tuple[str, str]] = ()
) -> None:
    registry.register(BackupCollector(state, declared))
