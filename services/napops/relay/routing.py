"""Which channels, sender and recipients a notification gets (pure).

Precedence for channels: the ``?channels=`` hint Alertmanager's route put in the URL, then
the first configured route whose ``match`` equals the group's common labels, then
``default_channels``. Email sender/recipients come from the first matching route, else from
the email channel's defaults. Channels that are not configured are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import NoChannel, PayloadError
from .schema import CHANNELS


@dataclass(frozen=True)
class Decision:
    channels: list[str]
    email_to: list[str] = field(default_factory=list)
    email_from: str | None = None


def parse_hint(raw: str | None) -> list[str] | None:
    """``"email,rocketchat"`` -> list; None when absent. Raises PayloadError on unknown names."""
    if raw is None or not raw.strip():
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHANNELS]
    if unknown:
        raise PayloadError(f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(CHANNELS)}")
    return list(dict.fromkeys(names))


def matching_route(labels: dict[str, str], routes: list[dict[str, Any]]) -> dict[str, Any] | None:
    for route in routes:
        if all(labels.get(k) == v for k, v in route["match"].items()):
            return route
    return None


def decide(
    data: dict[str, Any], hint: list[str] | None, section: dict[str, Any], available: list[str]
) -> Decision:
    """Route one group. Raises NoChannel when no configured channel remains."""
    route = matching_route(data.get("commonLabels", {}), section.get("routes", []))
    wanted = hint or (route or {}).get("channels") or section["default_channels"]
    channels = [c for c in wanted if c in available]
    if not channels:
        raise NoChannel(
            f"none of the channels {', '.join(wanted)} is configured (have: "
            f"{', '.join(available) or 'none'})"
        )
    route = route or {}
    return Decision(channels, list(route.get("email_to", [])), route.get("email_from"))
