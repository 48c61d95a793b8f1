"""What is backed up: items declared by container labels and by the configuration file.

An item is one service's data of one kind (a strategy) in one container. Labels on a
container (``napops.backup.strategy=mariadb`` and friends) declare it where it runs; the
``backup.items`` list of the configuration declares it centrally (and wins for the same
service and strategy). Pure logic: the container list comes in, items come out.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "napops.backup."
STRATEGIES = (
    "mariadb",
    "postgres",
    "mongodb",
    "redis",
    "elasticsearch",
    "gitea",
    "files",
    "command",
)
# the job groups of the estate's plan (contract 6.2); databases come first in a DR restore
GROUPS = ("databases", "redis", "files", "config")
DEFAULT_GROUP = {
    "mariadb": "databases",
    "postgres": "databases",
    "mongodb": "databases",
    "redis": "redis",
    "elasticsearch": "files",
    "gitea": "files",
    "files": "files",
    "command": "files",
}
RESTORE_ORDER = ("databases", "redis", "files", "config")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Item:
    service: str
    strategy: str
    container: str
    group: str
    options: Mapping[str, Any] = field(default_factory=dict)
    source: str = "config"  # "config" or "label"

    @property
    def kind(self) -> str:
        return self.strategy

    @property
    def key(self) -> str:
        return f"{self.service}/{self.kind}"


class PlanError(Exception):
    """The declarations are wrong; ``problems`` are ``At '...': ...`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def from_labels(name: str, labels: Mapping[str, str]) -> tuple[Item | None, list[str]]:
    """The item a container declares with ``napops.backup.*`` labels (None: no label)."""
    strategy = labels.get(PREFIX + "strategy")
    if strategy is None:
        return None, []
    where = f"container {name} label {PREFIX}"
    problems: list[str] = []
    if strategy not in STRATEGIES:
        problems.append(
            f"At '{where}strategy': unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})"
        )
    service = labels.get(PREFIX + "service") or labels.get("com.docker.compose.service") or name
    group = labels.get(PREFIX + "group") or DEFAULT_GROUP.get(strategy, "files")
    if group not in GROUPS:
        problems.append(f"At '{where}group': {group!r} is not one of {', '.join(GROUPS)}")
    options: dict[str, Any] = {}
    for key, value in labels.items():
        if not key.startswith(PREFIX) or key[len(PREFIX) :] in ("strategy", "service", "group"):
            continue
        opt = key[len(PREFIX) :].replace("-", "_")
        if opt in ("paths", "databases", "argv", "restore_argv"):
            options[opt] = (
                _split(value) if opt != "argv" and opt != "restore_argv" else value.split()
            )
        elif opt == "stop":
            options[opt] = value.lower() in ("1", "true", "yes")
        elif opt == "newest":
            # db.table.column[,db.table.column...]
            options[opt] = {
                c.rsplit(".", 1)[0]: c.rsplit(".", 1)[1] for c in _split(value) if "." in c
            }
        else:
            options[opt] = value
    if problems:
        return None, problems
    return Item(service, strategy, name, group, options, "label"), []


def plan(
    configured: Iterable[Mapping[str, Any]],
    containers: Iterable[tuple[str, Mapping[str, str]]],
    use_labels: bool = True,
) -> list[Item]:
    """Every item: configured ones, then labelled containers not configured already.
    Raises PlanError listing every problem (nothing runs then)."""
    problems: list[str] = []
    items: dict[str, Item] = {}
    for i, entry in enumerate(configured):
        strategy = entry.get("strategy", "")
        where = f"backup.items[{i}]"
        if strategy not in STRATEGIES:
            problems.append(
                f"At '{where}.strategy': unknown strategy {strategy!r} "
                f"(known: {', '.join(STRATEGIES)})"
            )
            continue
        item = Item(
            service=entry["service"],
            strategy=strategy,
            container=entry["container"],
            group=entry.get("group") or DEFAULT_GROUP[strategy],
            options=dict(entry.get("options") or {}),
        )
        if item.key in items:
            problems.append(f"At '{where}': {item.key} is declared twice")
        items[item.key] = item
    if use_labels:
        for name, labels in containers:
            labelled, found = from_labels(name, labels)
            problems += found
            if labelled is not None and labelled.key not in items:
                items[labelled.key] = labelled
    for item in items.values():
        if not _NAME.match(item.service):
            problems.append(
                f"At '{item.key}': service name {item.service!r} must be lower-case letters, "
                "digits, _ . -"
            )
    if problems:
        raise PlanError(problems)
    return sorted(items.values(), key=order)


def order(item: Item) -> tuple[int, str]:
    """Databases first (the restore order of a disaster recovery), then by name."""
    return (RESTORE_ORDER.index(item.group) if item.group in RESTORE_ORDER else 9, item.key)


def projects(setting: str) -> list[str]:
    """The Compose project globs of ``backup.compose_project`` (comma-separated)."""
    return [p.strip() for p in setting.split(",") if p.strip()]


def project_matches(project: str, patterns: list[str]) -> bool:
    """True when ``project`` matches one of ``patterns`` (none: every project matches)."""
    return not patterns or any(fnmatch.fnmatchcase(project, p) for p in patterns)
