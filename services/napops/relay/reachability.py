"""Is each channel *configured*, and is its server *reachable* from here?

Configured means the relay's section names the server (``channels.configured``); reachable
means a TCP connection to it opens and, for SMTP without implicit TLS, the server greets with
``220``. Nothing is sent: no email, no chat post. ``napops relay test`` prints both, and
:func:`ready_check` is the ``/readyz`` check that fails while a configured channel cannot be
reached (wired in relay/main.py: ``ctx.ready_checks["channels_reachable"] =
reachability.ready_check(section)``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import channels
from .schema import CHANNELS

Connect = Callable[[tuple[str, int], float], socket.socket]


@dataclass
class Probe:
    channel: str
    configured: bool
    reachable: bool | None  # None: not configured, not probed
    where: str = ""  # host:port, never the webhook's path (it holds the token)
    detail: str = ""

    def line(self) -> str:
        if not self.configured:
            return f"{self.channel:10}  not configured"
        state = "reachable" if self.reachable else f"UNREACHABLE ({self.detail})"
        return f"{self.channel:10}  configured ({self.where}), {state}"


def target(channel: str, cfg: dict[str, Any]) -> tuple[str, int]:
    """The host and port a channel's configuration points at."""
    if channel == "email":
        return cfg["host"], int(cfg.get("port", 587))
    url = urlsplit(cfg["webhook_url"])
    return url.hostname or "", url.port or (443 if url.scheme == "https" else 80)


def probe(
    channel: str,
    cfg: dict[str, Any],
    timeout: float = 3.0,
    connect: Connect = socket.create_connection,
) -> Probe:
    """Open a connection to the channel's server; read the SMTP greeting where there is one."""
    host, port = target(channel, cfg)
    where = f"{host}:{port}"
    try:
        with connect((host, port), timeout) as sock:
            if channel == "email" and cfg.get("security", "starttls") != "tls":
                sock.settimeout(timeout)
                greeting = sock.recv(512).decode("ascii", "replace").strip()
                if not greeting.startswith("220"):
                    return Probe(channel, True, False, where, f"no SMTP greeting: {greeting!r}")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Probe(channel, True, False, where, reason)
    return Probe(channel, True, True, where)


def probe_all(
    section: dict[str, Any], timeout: float = 3.0, connect: Connect = socket.create_connection
) -> list[Probe]:
    """One probe per channel, in CHANNELS order; unconfigured ones are listed, not probed."""
    configured = channels.configured(section)
    return [
        probe(name, configured[name], timeout, connect)
        if name in configured
        else Probe(name, False, None)
        for name in CHANNELS
    ]


def ready_check(section: dict[str, Any], timeout: float = 2.0) -> Callable[[], None]:
    """A ``/readyz`` check: raises naming every configured channel that cannot be reached."""

    def check() -> None:
        down = [p for p in probe_all(section, timeout) if p.configured and not p.reachable]
        if down:
            raise RuntimeError(
                "; ".join(f"{p.channel} configured but unreachable: {p.detail}" for p in down)
            )

    return check
