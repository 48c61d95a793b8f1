"""Delivery channels. Each has ``name``, ``send(rendered, body)`` raising ChannelError, and
``close()`` releasing its connections.

:func:`build` makes the configured, enabled ones; a channel is configured when its section
names its server (``host`` for email, ``webhook_url`` for Rocket.Chat).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..render import Rendered


class Channel(Protocol):
    name: str

    def send(self, rendered: Rendered, body: dict[str, Any]) -> None:
        """Deliver one message; raise ChannelError with a short reason on failure."""

    def close(self) -> None:
        """Release kept connections (at shutdown)."""


def configured(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The channel sections that are configured and enabled, by name."""
    chans = section.get("channels", {})
    out = {}
    if "host" in chans.get("email", {}) and chans["email"].get("enabled", True):
        out["email"] = chans["email"]
    if "webhook_url" in chans.get("rocketchat", {}) and chans["rocketchat"].get("enabled", True):
        out["rocketchat"] = chans["rocketchat"]
    return out


def build(section: dict[str, Any]) -> dict[str, Channel]:
    """Channel objects for every configured, enabled channel."""
    from .email import EmailChannel
    from .rocketchat import RocketChatChannel

    makers = {"email": EmailChannel, "rocketchat": RocketChatChannel}
    return {name: makers[name](cfg) for name, cfg in configured(section).items()}
