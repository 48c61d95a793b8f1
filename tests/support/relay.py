"""The relay as a real process for tests, its configuration, and webhook bodies.

- :class:`RelayProcess`: ``napops-relay`` as a subprocess with a config written for the test.
- :func:`base_config`: fast retries and short windows; tests override what they exercise.
- :func:`webhook`, :func:`fixture_payload`: Alertmanager v4 bodies.
The SMTP server and Rocket.Chat receiver live in support/smtp.py and support/rocketchat.py.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from helpers import FIXTURES, free_port
from support.process import Process
from support.rocketchat import RocketChatReceiver
from support.smtp import SmtpServer

__all__ = [
    "TOKEN",
    "RelayProcess",
    "RocketChatReceiver",
    "SmtpServer",
    "base_config",
    "fixture_payload",
    "webhook",
]

TOKEN = "test-token-0123456789abcdef"


def base_config(
    state_dir: Path,
    smtp: SmtpServer | None = None,
    chat: RocketChatReceiver | None = None,
    **relay: Any,
) -> dict[str, Any]:
    """A relay configuration for tests: fast retries, short windows, the channels of the given
    servers; ``relay`` keys override the section."""
    channels: dict[str, Any] = {}
    if smtp is not None:
        channels["email"] = smtp.config()
    if chat is not None:
        channels["rocketchat"] = chat.config()
    section: dict[str, Any] = {
        "state_dir": str(state_dir),
        "token": TOKEN,
        "timezone": "Asia/Bangkok",
        "channels": channels,
        "retry": {"initial_seconds": 0.2, "max_seconds": 1, "multiplier": 2, "jitter": 0.2},
        "failing_note_after_seconds": 2,
        "watchdog": {"enabled": False, "window_seconds": 5, "check_seconds": 0.2},
    }
    section.update(relay)
    return {"log_level": "INFO", "relay": section}


class RelayProcess:
    """``napops-relay`` as a subprocess on a free port, with ``config`` written to a file; its
    output goes to ``log`` (kept across restarts) and into every failure message."""

    def __init__(self, directory: Path, config: dict[str, Any]):
        self.directory, self.config = directory, copy.deepcopy(config)
        self.port = free_port()
        self.path = directory / "relay.yml"
        self.log = directory / "relay.log"
        exe = str(Path(sys.executable).parent / "napops-relay")
        env = {**os.environ, "NAPOPS__LISTEN__PORT": str(self.port)}
        self.process = Process([exe, "--config", str(self.path)], self.log, "relay", env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> RelayProcess:
        self.path.write_text(yaml.safe_dump(self.config, allow_unicode=True), encoding="utf-8")
        self.process.start()
        if wait:
            self.process.wait_ready(self._healthy, timeout=20, what="relay /healthz")
        return self

    def _healthy(self) -> bool:
        return requests.get(self.url + "/healthz", timeout=2).status_code == 200

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.process.kill(sig)

    def post(
        self,
        payload: Any,
        path: str = "/alertmanager",
        token: str | None = TOKEN,
        channels: str | None = None,
        raw: bytes | None = None,
    ) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        params = {"channels": channels} if channels else None
        return requests.post(self.url + path, data=body, headers=headers, params=params, timeout=10)

    def metric(self, name: str, **labels: str) -> float | None:
        """A sample value from /metrics (None when the series is absent)."""
        text = requests.get(self.url + "/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return None


def fixture_payload() -> dict[str, Any]:
    """The real Alertmanager 0.25 body from shared/fixtures (two firing alerts, Thai text)."""
    data: dict[str, Any] = json.loads(
        (FIXTURES / "alertmanager" / "firing-group.json").read_text(encoding="utf-8")
    )
    return data


def webhook(name: str, status: str = "firing", n: int = 1, **labels: str) -> dict[str, Any]:
    """A v4 body for group ``name`` with ``n`` alerts (distinct ``instance`` labels)."""
    common = {"alertname": name, "severity": "critical", **labels}
    alerts = [
        {
            "status": status,
            "labels": {**common, "instance": f"{name.lower()}-{i}:9100"},
            "annotations": {"summary": f"{name} {i} is down", "description": f"สวัสดี {name} {i}"},
            "startsAt": "2026-11-26T10:00:00Z",
            "endsAt": "2026-11-26T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": f"{i:016x}",
        }
        for i in range(n)
    ]
    return {
        "receiver": "relay",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": name},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
    }
