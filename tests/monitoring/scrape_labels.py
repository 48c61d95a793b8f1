"""The labels Prometheus really gives each target: target files plus the job's relabelling.

Reads prometheus.yml and prometheus/targets/<env>/ and applies each job's ``relabel_configs``
(the subset of Prometheus relabelling the project uses: ``replace``, ``keep``, ``drop``,
``labeldrop``), then drops ``__``-labels as Prometheus does. Used to check that every series a
promtool rule test feeds carries labels that a real scrape would produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring_files import ENVIRONMENTS, TARGETS, load_yaml, scrape_jobs, target_file

SERIES = re.compile(r"^\s*([A-Za-z_:][\w:]*)?\s*\{(.*)\}\s*$|^\s*([A-Za-z_:][\w:]*)\s*$")
LABEL = re.compile(r'\s*([A-Za-z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True)
class Target:
    env: str
    labels: dict[str, str]


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """``name{a="b", ...}`` -> (name, labels). Raises ValueError on anything else."""
    match = SERIES.match(text)
    if not match:
        raise ValueError(f"not a series selector: {text!r}")
    if match.group(3):
        return match.group(3), {}
    name, body = match.group(1) or "", match.group(2)
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(body.strip()):
        label = LABEL.match(body, pos)
        if not label:
            raise ValueError(f"cannot parse labels of {text!r} at {body[pos:]!r}")
        labels[label.group(1)] = label.group(2).replace('\\"', '"')
        pos = label.end()
    return labels.pop("__name__", name), labels


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Apply Prometheus relabel_configs; None when a keep/drop rule drops the target."""
    out = dict(labels)
    for rule in configs:
        action = rule.get("action", "replace")
        if action == "labeldrop":
            pattern = re.compile(f"^(?:{rule['regex']})$")
            out = {k: v for k, v in out.items() if not pattern.match(k)}
            continue
        sources = rule.get("source_labels", [])
        source = rule.get("separator", ";").join(out.get(s, "") for s in sources)
        match = re.match(f"^(?:{rule.get('regex', '(.*)')})$", source)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            replacement = re.sub(r"\$\{?(\d+)\}?", r"\\\1", rule.get("replacement", "$1"))
            value = match.expand(replacement)
            if value:
                out[rule["target_label"]] = value
            else:
                out.pop(rule["target_label"], None)
        elif action not in {"replace", "keep", "drop"}:
            raise ValueError(f"relabel action {action!r} is not modelled here")
    return out


def real_targets() -> Iterator[Target]:
    """Every target of every environment, with the labels its series carry."""
    for job in scrape_jobs():
        relative = Path(target_file(job)).relative_to("targets")
        for env in ENVIRONMENTS:
            for group in load_yaml(TARGETS / env / relative) or []:
                for address in group["targets"]:
                    discovered = {
                        "__address__": address,
                        "job": job["job_name"],
                        **{k: str(v) for k, v in group.get("labels", {}).items()},
                    }
                    for name, value in (job.get("params") or {}).items():
                        discovered[f"__param_{name}"] = value[0]
                    labels = relabel(discovered, job.get("relabel_configs", []))
                    if labels is None:
                        continue
                    labels.setdefault("instance", labels["__address__"])
                    yield Target(env, {k: v for k, v in labels.items() if not k.startswith("__")})


def target_label_names(targets: list[Target]) -> dict[str, set[str]]:
    """Per job, every label name that some target of that job carries."""
    names: dict[str, set[str]] = {}
    for target in targets:
        names.setdefault(target.labels["job"], set()).update(target.labels)
    return names


def mismatch(series: dict[str, str], targets: list[Target]) -> str | None:
    """Why ``series`` cannot come from any real target (None when one matches)."""
    job, instance = series.get("job"), series.get("instance")
    if job is None or instance is None:
        return "has no job/instance label: every scraped series has both"
    candidates = [t for t in targets if t.labels["job"] == job]
    if not candidates:
        return f"job {job!r} is not a job of prometheus.yml"
    per_job = target_label_names(candidates)[job]
    reasons = []
    for target in candidates:
        if target.labels["instance"] != instance:
            continue
        wrong = {k: (series.get(k), v) for k, v in target.labels.items() if series.get(k) != v}
        extra = sorted(k for k in per_job if k in series and k not in target.labels)
        if not wrong and not extra:
            return None
        reasons.append(f"{target.env}: differs in {wrong}, extra target labels {extra}")
    if not reasons:
        known = sorted({t.labels["instance"] for t in candidates})
        return f"instance {instance!r} is no target of job {job!r} (targets: {known})"
    return "; ".join(reasons)
