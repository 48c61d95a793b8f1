"""Real Prometheus and Alertmanager processes wired to a relay, for e2e tests and benchmarks.

The project's own rules (prometheus/rules/*.yml) and Alertmanager routes
(alertmanager/alertmanager.yml) are used; only the relay URLs and the token file are
rewritten to point at the test's relay. The Prometheus config is generated: it scrapes a
target the test controls as job ``napops``, with that job's scrape interval and timeout and
the global evaluation interval from the project's prometheus.yml (rule groups keep their own
``interval``).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import yaml

from helpers import ROOT, LoopbackServer, free_port
from support.monitoring import alertmanager, prometheus
from support.process import Server

PROM_DIR, AM_DIR = ROOT / "prometheus", ROOT / "alertmanager"


class Target(LoopbackServer):
    """A scrape target that can be stopped (connection refused -> up == 0) and restarted."""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = b"# TYPE fake_backend_ready gauge\nfake_backend_ready 1\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _group_interval(rule_files: list[Path], alert: str) -> str:
    """The ``interval`` of the rule group holding ``alert`` ('global' when it has none)."""
    for path in rule_files:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            if any(r.get("alert") == alert for r in group.get("rules", [])):
                return str(group.get("interval", "global"))
    return "global"


JOB = "blackbox-exporter"
"""The test's target stands in for this project job: its TargetDown is critical and goes through
the relay (the napops job's is a warning, or the alert path's own email for the relay)."""


def _project_intervals() -> dict[str, str]:
    """Global evaluation interval and the scrape timing of :data:`JOB` from prometheus.yml."""
    path = PROM_DIR / "prometheus.yml"
    doc: dict[str, Any] = yaml.safe_load(path.read_text()) or {} if path.exists() else {}
    glob = doc.get("global", {})
    job = next((j for j in doc.get("scrape_configs", []) if j.get("job_name") == JOB), {})
    return {
        "scrape_interval": job.get("scrape_interval", glob.get("scrape_interval", "5s")),
        "scrape_timeout": job.get("scrape_timeout", glob.get("scrape_timeout", "3s")),
        "evaluation_interval": glob.get("evaluation_interval", "5s"),
    }


def rewrite_alertmanager(
    config: dict[str, Any],
    relay_url: str,
    token_file: Path,
    by_address: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Point every webhook at ``relay_url`` (path and query kept) and at ``token_file``;
    a webhook whose configured address (``host:port``) is a key of ``by_address`` goes to
    that URL instead (e.g. ``{"qnap:9188": watcher.url}``)."""
    for receiver in config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            u = urlsplit(hook["url"])
            base = urlsplit((by_address or {}).get(u.netloc, relay_url))
            hook["url"] = urlunsplit((base.scheme, base.netloc, u.path, u.query, ""))
            http = hook.setdefault("http_config", {})
            for legacy in ("bearer_token", "bearer_token_file"):
                http.pop(legacy, None)
            auth = http.setdefault("authorization", {})
            auth.pop("credentials", None)
            auth["credentials_file"] = str(token_file)
    # Alertmanager's own email (the alert path's receiver) goes to a closed loopback port:
    # no test ever contacts the configured smarthost
    glob = config.setdefault("global", {})
    glob["smtp_smarthost"] = "127.0.0.1:9"
    glob.pop("smtp_auth_password_file", None)
    glob.pop("smtp_auth_username", None)
    glob["smtp_require_tls"] = False
    templates = config.get("templates")
    if templates:
        config["templates"] = [
            str(AM_DIR / t) if not Path(t).is_absolute() else t for t in templates
        ]
    return config


class Stack:
    """Prometheus + Alertmanager as processes; call :meth:`stop` at the end."""

    def __init__(self, directory: Path, relay_url: str, token: str, target: Target):
        self.dir, self.relay_url, self.target = directory, relay_url, target
        self.prom_port, self.am_port = free_port(), free_port()
        self.procs: list[Server] = []
        self.token_file = directory / "relay_token"
        self.token_file.write_text(token + "\n")
        rules = sorted((PROM_DIR / "rules").glob("*.yml"))
        assert rules, f"no rule files in {PROM_DIR / 'rules'}"
        self.rule_files = rules
        self.intervals = _project_intervals()
        self.intervals["TargetDown group interval"] = _group_interval(rules, "TargetDown")

    def write_configs(self) -> tuple[Path, Path]:
        am = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())
        am_path = self.dir / "alertmanager.yml"
        am_path.write_text(
            yaml.safe_dump(rewrite_alertmanager(am, self.relay_url, self.token_file))
        )
        prom = {
            "global": {k: v for k, v in self.intervals.items() if "_" in k},
            "rule_files": [str(p) for p in self.rule_files],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{self.target.port}"],
                            "labels": {"host": "qnap", "service": "backend"},
                        }
                    ],
                }
            ],
        }
        prom_path = self.dir / "prometheus.yml"
        prom_path.write_text(yaml.safe_dump(prom))
        return prom_path, am_path

    def start(self) -> Stack:
        prom_path, am_path = self.write_configs()
        self.procs = [
            alertmanager(am_path, self.dir, self.am_port),
            prometheus(prom_path, self.dir, self.prom_port),
        ]
        for proc in self.procs:
            proc.start()
        for proc in self.procs:
            proc.wait_ready_http()
        return self

    def target_up(self) -> float | None:
        resp = requests.get(
            f"http://127.0.0.1:{self.prom_port}/api/v1/query",
            params={"query": f'up{{job="{JOB}"}}'},
            timeout=5,
        ).json()
        result = resp["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop(timeout=15)
        self.procs.clear()
