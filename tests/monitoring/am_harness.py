"""The project's Alertmanager configuration on a real Alertmanager, its outputs captured.

Routes, grouping, timing and inhibitions are the shipped ones. Only the places notifications
go are redirected to 127.0.0.1, so nothing the configuration names is ever contacted:

- every webhook to :class:`WebhookSink`, which records the original host, path and query
  (``relay:8000/alertmanager?channels=email,rocketchat``, ``qnap:9188/watchdog``);
- Alertmanager's own email (the alert-path receiver) to :class:`MailSink`, a real SMTP server
  (aiosmtpd) without TLS or AUTH; the shipped smarthost, TLS and password file are replaced.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import support.monitoring
import yaml
from aiosmtpd.controller import Controller
from monitoring_files import ALERTMANAGER, load_yaml

from helpers import LoopbackServer, free_port

CONFIG = ALERTMANAGER / "alertmanager.yml"


@dataclass
class Notification:
    target: str  # original host:port/path?query of the webhook
    body: dict[str, Any]
    at: float  # time.time() when received

    @property
    def alertnames(self) -> list[str]:
        return [a["labels"]["alertname"] for a in self.body["alerts"]]


class WebhookSink(LoopbackServer):
    """Records every webhook post under its original target."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Notification] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                target = self.path.lstrip("/")
                with sink.lock:
                    sink.received.append(Notification(target, body, time.time()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def to(self, prefix: str) -> list[Notification]:
        with self.lock:
            return [n for n in self.received if n.target.startswith(prefix)]


class _MailHandler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append((time.time(), list(envelope.rcpt_tos), msg))
        return "250 OK"


class MailSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, no TLS, no AUTH) keeping every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[float, list[str], Any]] = []
        self.lock = threading.Lock()
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for _, _, m in self.messages]


def localise(config: dict[str, Any], hooks: WebhookSink, mail: MailSink) -> dict[str, Any]:
    """The shipped config with its outputs redirected to the sinks (see the module doc)."""
    glob = config["global"]
    glob["smtp_smarthost"] = f"127.0.0.1:{mail.port}"
    glob["smtp_require_tls"] = False
    for key in ("smtp_auth_username", "smtp_auth_password_file", "smtp_auth_password"):
        glob.pop(key, None)
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            url = urlsplit(hook["url"])
            query = f"?{url.query}" if url.query else ""
            hook["url"] = f"http://127.0.0.1:{hooks.port}/{url.netloc}{url.path}{query}"
            hook.pop("http_config", None)
    return config


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, alerts: list[dict[str, str]], ends_in: float = 3600) -> None:
        now = datetime.now(UTC)
        body = [
            {
                "labels": labels,
                "annotations": {},
                "startsAt": (now - timedelta(seconds=1)).isoformat(),
                "endsAt": (now + timedelta(seconds=ends_in)).isoformat(),
            }
            for labels in alerts
        ]
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            return list(json.load(response))

    def inhibited(self, count: int) -> dict[str, bool] | None:
        """alertname/instance -> inhibited?, once ``count`` alerts are listed."""
        alerts = self.alerts()
        if len(alerts) < count:
            return None
        marks = {}
        for alert in alerts:
            labels = alert["labels"]
            where = labels.get("instance", labels.get("host", ""))
            marks[f"{labels['alertname']}/{where}"] = bool(alert["status"]["inhibitedBy"])
        return marks


@contextmanager
def alertmanager(work: Path) -> Iterator[tuple[Alertmanager, WebhookSink, MailSink]]:
    """A real Alertmanager with the shipped routes and inhibitions, and its output sinks."""
    hooks, mail = WebhookSink().start(), MailSink().start()
    config = localise(load_yaml(CONFIG), hooks, mail)
    path = work / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    server = support.monitoring.alertmanager(path, work)
    try:
        server.start_ready()
        yield Alertmanager(server.url), hooks, mail
    finally:
        server.stop(timeout=10)
        hooks.stop()
        mail.stop()
