"""The deploy sidecar as a real process (napops-deploy) with a config written for a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from helpers import free_port, wait_for

TOKEN = "deploy-api-token-0123456789"
HOOK_SECRET = "gitea-hook-secret-of-webhooks"


@dataclass
class Sidecar:
    root: Path
    section: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Sidecar:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "hook_secret").write_text(HOOK_SECRET + "\n")
        self.port = self.port or free_port()
        section = {
            "token": TOKEN,
            "webhook": {"secrets": {"gitea/webhooks": str(self.root / "hook_secret")}},
            **self.section,
        }
        config = {
            "listen": {"host": "127.0.0.1", "port": self.port},
            "state_dir": str(self.root / "state"),
            "audit": {"path": str(self.root / "audit.jsonl"), "key": "k" * 32},
            "deploy": section,
        }
        (self.root / "deploy.yml").write_text(yaml.safe_dump(config))
        exe = Path(sys.executable).with_name("napops-deploy")
        log = (self.root / "sidecar.log").open("ab")
        self.proc = subprocess.Popen(
            [str(exe), "--config", str(self.root / "deploy.yml")],
            stdout=log,
            stderr=log,
            env=os.environ.copy(),
        )
        wait_for(
            self._ready, timeout=30, what=f"napops-deploy ready (log {self.root / 'sidecar.log'})"
        )
        return self

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "napops-deploy exited"
        return requests.get(self.url + "/readyz", timeout=2).status_code == 200

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return (self.root / "sidecar.log").read_text()

    def deployment(self, dep_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = requests.get(f"{self.url}/deployments/{dep_id}", timeout=5).json()
        return doc

    def wait_done(self, dep_id: str, timeout: float = 180) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            doc = self.deployment(dep_id)
            return doc if doc["state"] not in ("queued", "running") else None

        return wait_for(done, timeout=timeout, interval=0.5, what=f"deployment {dep_id} to end")

    def deploy(self, service: str, image: str, environment: str = "e2e") -> requests.Response:
        return requests.post(
            self.url + "/deployments",
            json={"service": service, "image": image, "environment": environment},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
