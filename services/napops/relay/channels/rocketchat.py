"""Rocket.Chat incoming webhook: POST of JSON ``text`` and ``attachments`` (UTF-8).

The webhook URL carries the integration's token, so error reasons never include it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import ChannelError
from ..render import Rendered


class RocketChatChannel:
    """Posts to the incoming webhook; ``session`` may be replaced (tests, proxies)."""

    name = "rocketchat"

    def __init__(self, cfg: dict[str, Any], session: requests.Session | None = None):
        self.cfg = cfg
        self.session = session or requests.Session()
        self._path = urlsplit(cfg["webhook_url"]).path

    def send(self, rendered: Rendered, body: dict[str, Any]) -> None:
        """Post ``rendered.rocketchat``; any non-2xx answer or network error is ChannelError."""
        data = json.dumps(rendered.rocketchat, ensure_ascii=False).encode("utf-8")
        try:
            resp = self.session.post(
                self.cfg["webhook_url"],
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.cfg["timeout_seconds"],
                verify=self.cfg.get("ca_file") or True,
            )
        except requests.RequestException as exc:
            raise ChannelError(self._scrub(f"{type(exc).__name__}: {exc}")) from None
        if not 200 <= resp.status_code < 300:
            raise ChannelError(f"HTTP {resp.status_code}: {self._scrub(resp.text[:200])}")

    def close(self) -> None:
        """Close the HTTP session's kept connections (at shutdown)."""
        self.session.close()

    def _scrub(self, text: str) -> str:
        # The path holds the integration id and token: keep them out of logs and chat notes.
        if self._path and self._path != "/":
            text = text.replace(self._path, "/<webhook>")
        return text[:300]
