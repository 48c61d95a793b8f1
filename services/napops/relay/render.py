"""Turn a stored message into what people read: an email (subject, text and HTML parts) and
a Rocket.Chat post.

Pure functions. An alert message says what is broken where in its first line
(``[FIRING:2] BackendDown qnap backend``), then every alert of the group with its summary,
description, value, runbook, labels and links. The email subject adds the instance and the
summary when the group shares them and they fit (``SUBJECT_MAX``). The HTML part shows the
same facts, escaped, with a colour per state and links to the Grafana panel and the runbook.
``notes`` (e.g. "email delivery failing since 10:02: ...") are put first on every channel they
are rendered for.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .payload import parse_time

COLOURS = {"resolved": "#2eb886", "critical": "#d00000", "warning": "#f2a900"}
OTHER_COLOUR = "#439fe0"
NOTE_COLOUR = "#fff3cd"
MAX_ATTACHMENTS = 20
SUBJECT_MAX = 120
"""Instance and summary join the email subject only while it stays this short."""


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
    html: str = ""


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


def _shared(data: dict[str, Any], part: str, key: str) -> str | None:
    """The value of ``alert[part][key]`` when every alert of the group has the same one."""
    values = {a[part].get(key) or "" for a in data["alerts"]}
    if len(values) != 1:
        return None
    return values.pop() or None


def email_subject(data: dict[str, Any], labels: tuple[str, ...], limit: int = SUBJECT_MAX) -> str:
    """:func:`subject`, then the group's instance and ``: summary`` where they fit in ``limit``."""
    out = subject(data, labels)
    instance = _shared(data, "labels", "instance")
    if instance and instance not in out.split() and len(out) + 1 + len(instance) <= limit:
        out += f" {instance}"
    summary = _shared(data, "annotations", "summary")
    if summary and len(out) + 2 + len(summary) <= limit:
        out += f": {summary}"
    return out


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
    """Email subject, text and HTML, and Rocket.Chat payload for one Alertmanager group."""
    subj = subject(data, opts.subject_labels)
    parts = [*(f"NOTE: {n}" for n in notes), subj, ""]
    attachments, blocks = [], []
    for alert in data["alerts"]:
        lines = alert_lines(alert, data, opts)
        parts += [_title(alert), *(f"  {line}" for line in lines), ""]
        attachments.append(_attachment(alert, lines))
        blocks.append(_html_alert(alert, data, opts))
    if data.get("truncatedAlerts"):
        more = f"({data['truncatedAlerts']} more alerts were truncated by Alertmanager)"
        parts.append(more)
        blocks.append(f"<p>{_e(more)}</p>")
    if len(attachments) > MAX_ATTACHMENTS:  # keep chat posts readable; email has them all
        more_n = len(attachments) - MAX_ATTACHMENTS + 1
        attachments = attachments[: MAX_ATTACHMENTS - 1]
        attachments.append({"title": f"... and {more_n} more alerts (see the email)"})
    text_head = "\n".join([*(f":warning: {n}" for n in notes), f"*{subj}*"])
    head_colour = colour(data["status"], data.get("commonLabels", {}).get("severity"))
    page = _html_page(subj, head_colour, notes, blocks)
    return Rendered(
        email_subject(data, opts.subject_labels),
        "\n".join(parts),
        {"text": text_head, "attachments": attachments},
        page,
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _a(name: str, url: str) -> str:
    """A link when ``url`` is http(s); anything else is shown as text, never made a link."""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}">{_e(name)}</a>'
    return f"{_e(name)}: {_e(url)}"


def _html_page(title: str, head_colour: str, notes: list[str], blocks: list[str]) -> str:
    note_html = "".join(
        f'<p style="background:{NOTE_COLOUR};padding:6px 10px;margin:0 0 8px">'
        f"<b>Note:</b> {_e(n)}</p>"
        for n in notes
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif;font-size:14px">'
        f"{note_html}"
        f'<h2 style="color:{head_colour};margin:0 0 8px">{_e(title)}</h2>'
        f"{''.join(blocks)}</body></html>\n"
    )


def _html_alert(alert: dict[str, Any], data: dict[str, Any], opts: Options) -> str:
    ann, tint = alert["annotations"], colour(alert["status"], alert["labels"].get("severity"))
    rows = [(key.capitalize(), ann[key]) for key in ("description", "value") if ann.get(key)]
    since = parse_time(alert["startsAt"])
    if since is not None:
        rows.append(("Since", clock(since, opts.timezone, "%Y-%m-%d %H:%M:%S %Z")))
    ended = parse_time(alert.get("endsAt", ""))
    if alert["status"] == "resolved" and ended is not None:
        rows.append(("Resolved", clock(ended, opts.timezone, "%Y-%m-%d %H:%M:%S %Z")))
    links = [("Runbook", ann["runbook_url"])] if ann.get("runbook_url") else []
    links += [("Grafana panel" if n == "Grafana" else n, u) for n, u in _links(alert, data, opts)]
    table = "".join(
        f'<tr><td style="color:#555;padding-right:10px;vertical-align:top">{_e(k)}</td>'
        f"<td>{_e(v)}</td></tr>"
        for k, v in rows
    )
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
    return (
        f'<div style="border-left:6px solid {tint};padding:4px 10px;margin:10px 0">'
        f'<h3 style="color:{tint};margin:0 0 4px">{_e(_title(alert))}</h3>'
        f"<table>{table}</table>"
        + (f"<p>{' · '.join(_a(n, u) for n, u in links)}</p>" if links else "")
        + f'<p style="color:#777;font-size:12px">{_e(labels)}</p></div>'
    )


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
    tint = colour(status, severity)
    chat = {
        "text": "\n".join([*(f":warning: {n}" for n in notes), f"*{title}*"]),
        "attachments": [{"title": title, "text": text, "color": tint}],
    }
    block = f'<p style="border-left:6px solid {tint};padding:4px 10px">{_e(text)}</p>'
    return Rendered(title, body, chat, _html_page(title, tint, notes, [block]))


def render(kind: str, body: dict[str, Any], notes: list[str], opts: Options) -> Rendered:
    """Render a stored message of ``kind`` ('alert' or 'notice')."""
    if kind == "alert":
        return render_alert(body["webhook"], notes, opts)
    return render_notice(body, notes)
