"""Turn a stored message into what people read: an email subject and body, a Rocket.Chat post.

Pure functions. An alert message says what is broken where in its first line
(``[FIRING:2] BackendDown qnap backend``), then every alert of the group with its summary,
description, value, runbook, labels and links. ``notes`` (e.g. "email delivery failing since
10:02: ...") are put first on every channel they are rendered for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .payload import parse_time

COLOURS = {"resolved": "#2eb886", "critical": "#d00000", "warning": "#f2a900"}
OTHER_COLOUR = "#439fe0"
MAX_ATTACHMENTS = 20


@dataclass(frozen=True)
class Options:
    """How to render: subject labels, time zone for times, Grafana link template."""

    subject_labels: tuple[str, ...] = ("host", "service")
    timezone: str = "UTC"
    grafana_url: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    rocketchat: dict[str, Any] = field(default_factory=dict)


def clock(ts: float, tz: str, fmt: str = "%H:%M") -> str:
    """``ts`` as local wall-clock time in ``tz`` (HH:MM by default)."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime(fmt)


def subject(data: dict[str, Any], labels: tuple[str, ...]) -> str:
    """``[FIRING:n] <alertname> <label values...>`` or ``[RESOLVED] ...``."""
    common, group = data.get("commonLabels", {}), data.get("groupLabels", {})
    firing = sum(1 for a in data["alerts"] if a["status"] == "firing")
    head = f"[FIRING:{firing}]" if data["status"] == "firing" else "[RESOLVED]"
    name = common.get("alertname") or group.get("alertname") or "alert"
    where = [common[k] for k in labels if common.get(k)]
    if not where:  # fall back on the grouping labels so the subject still says where
        where = [v for k, v in sorted(group.items()) if k != "alertname"]
    return " ".join([head, name, *where])


def colour(status: str, severity: str | None) -> str:
    if status == "resolved":
        return COLOURS["resolved"]
    return COLOURS.get(severity or "", OTHER_COLOUR)


def _links(alert: dict[str, Any], data: dict[str, Any], opts: Options) -> list[tuple[str, str]]:
    links = []
    if alert.get("generatorURL"):
        links.append(("Prometheus", alert["generatorURL"]))
    if opts.grafana_url:
        labels = defaultdict(str, alert["labels"])
        links.append(("Grafana", opts.grafana_url.format_map(labels)))
    if data.get("externalURL"):
        links.append(("Alertmanager", data["externalURL"].rstrip("/") + "/#/alerts"))
    return links


def alert_lines(alert: dict[str, Any], data: dict[str, Any], opts: Options) -> list[str]:
    """Every fact about one alert, one per line, for the email body and chat attachments."""
    ann = alert["annotations"]
    lines = []
    for key in ("description", "value"):
        if ann.get(key):
            lines.append(f"{key.capitalize()}: {ann[key]}")
    since = parse_time(alert["startsAt"])
    if since is not None:
        lines.append(f"Since: {clock(since, opts.timezone, '%Y-%m-%d %H:%M:%S %Z')}")
    ended = parse_time(alert.get("endsAt", ""))
    if alert["status"] == "resolved" and ended is not None:
        lines.append(f"Resolved: {clock(ended, opts.timezone, '%Y-%m-%d %H:%M:%S %Z')}")
    if ann.get("runbook_url"):
        lines.append(f"Runbook: {ann['runbook_url']}")
    lines += [f"{name}: {url}" for name, url in _links(alert, data, opts)]
    lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items())))
    return lines


def _title(alert: dict[str, Any]) -> str:
    summary = alert["annotations"].get("summary") or alert["labels"].get("alertname", "alert")
    return f"[{alert['status'].upper()}] {summary}"


def render_alert(data: dict[str, Any], notes: list[str], opts: Options) -> Rendered:
    """Email subject/body and Rocket.Chat payload for one Alertmanager group."""
    subj = subject(data, opts.subject_labels)
    parts = [*(f"NOTE: {n}" for n in notes), subj, ""]
    attachments = []
    for alert in data["alerts"]:
        lines = alert_lines(alert, data, opts)
        parts += [_title(alert), *(f"  {line}" for line in lines), ""]
        attachments.append(_attachment(alert, lines))
    if data.get("truncatedAlerts"):
        parts.append(f"({data['truncatedAlerts']} more alerts were truncated by Alertmanager)")
    if len(attachments) > MAX_ATTACHMENTS:  # keep chat posts readable; email has them all
        more = len(attachments) - MAX_ATTACHMENTS + 1
        attachments = attachments[: MAX_ATTACHMENTS - 1]
        attachments.append({"title": f"... and {more} more alerts (see the email)"})
    text_head = "\n".join([*(f":warning: {n}" for n in notes), f"*{subj}*"])
    return Rendered(subj, "\n".join(parts), {"text": text_head, "attachments": attachments})


def _attachment(alert: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    link = {"title_link": alert["generatorURL"]} if alert.get("generatorURL") else {}
    return {
        "title": _title(alert),
        **link,
        "text": "\n".join(lines),
        "color": colour(alert["status"], alert["labels"].get("severity")),
        "fields": [
            {"short": True, "title": k, "value": v} for k, v in sorted(alert["labels"].items())
        ],
    }


def render_notice(notice: dict[str, Any], notes: list[str]) -> Rendered:
    """A message from the relay itself (dead-man's switch, channel failing, test)."""
    status, severity = notice.get("status", "firing"), notice.get("severity", "info")
    title, text = notice["title"], notice.get("text", "")
    body = "\n".join([*(f"NOTE: {n}" for n in notes), title, "", text])
    chat = {
        "text": "\n".join([*(f":warning: {n}" for n in notes), f"*{title}*"]),
        "attachments": [{"title": title, "text": text, "color": colour(status, severity)}],
    }
    return Rendered(title, body, chat)


def render(kind: str, body: dict[str, Any], notes: list[str], opts: Options) -> Rendered:
    """Render a stored message of ``kind`` ('alert' or 'notice')."""
    if kind == "alert":
        return render_alert(body["webhook"], notes, opts)
    return render_notice(body, notes)
