"""Start the stack's components that do run here, and ask a real Prometheus what they export.

node exporter (its textfile directory holding the report of the edge's certbot loop, written by
the project's compose/config/edge/certbot-textfile.py, as on the QNAP), blackbox exporter
(probing a local HTTPS server, so the TLS series exist too),
Alertmanager and Prometheus run on 127.0.0.1 with free ports. Prometheus scrapes all of them
and itself and evaluates one always-firing alert, so the series only Prometheus makes (``up``,
``scrape_*``, ``ALERTS``) are there as well. The metric names are then read from Prometheus's
own API, exactly as a dashboard query would see them.
"""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import support.monitoring
import yaml
from support.process import running
from tlscert import self_signed

from helpers import ROOT, free_port, require_tool, wait_for

# Series that prove each component was scraped (and that the HTTPS probe ran). Two
# full-suite runs saw node_cpu_seconds_total but not yet the node exporter's uname and network
# series (cause not found; other tests' containers add and remove interfaces meanwhile), so
# the names the dashboards read from those collectors are waited for too.
MUST_SEE = {
    "up",
    "ALERTS",
    "node_cpu_seconds_total",
    "node_uname_info",
    "node_network_transmit_bytes_total",
    "probe_success",
    "probe_ssl_earliest_cert_expiry",
    "alertmanager_notifications_total",
    "prometheus_build_info",
    "napops_certbot_last_run_timestamp_seconds",
}
REPORTER = ROOT / "compose" / "config" / "edge" / "certbot-textfile.py"


def certbot_report(work: Path) -> Path:
    """A textfile directory with the certbot loop's report of one lineage (a pass that
    succeeded), written by the project's reporter as the loop runs it."""
    live = work / "live" / "lcbp3.np-dms.work"
    live.mkdir(parents=True)
    self_signed(live / "cert.pem", live / "privkey.pem", "lcbp3.np-dms.work", days=90)
    textfile = work / "textfile"
    textfile.mkdir()
    subprocess.run(
        [sys.executable, str(REPORTER), "--result", "ok", "--live", str(work / "live"),
         "--textfile", str(textfile / "napops_certbot.prom"), "--interval", "43200"],
        check=True, timeout=60,
    )  # fmt: skip
    return textfile


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid 60 days, so the expiry series has a real value."""
    return self_signed(directory / "cert.pem", directory / "key.pem", "napops-test", days=60)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@contextmanager
def https_server(directory: Path) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 for the blackbox exporter to probe; yields its port."""
    cert, key = _self_signed(directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, object] = json.load(response)
        return data


def _prometheus_config(ports: dict[str, int], https_port: int, rules: Path) -> dict[str, object]:
    local = "127.0.0.1:{}".format
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [local(ports["prom"])]}]},
            {"job_name": "node", "static_configs": [{"targets": [local(ports["node"])]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [local(ports["am"])]}]},
            {"job_name": "blackbox", "static_configs": [{"targets": [local(ports["bb"])]}]},
            {
                "job_name": "blackbox-https",
                "metrics_path": "/probe",
                "params": {"module": ["https_2xx"]},
                "static_configs": [{"targets": [f"https://127.0.0.1:{https_port}/"]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": local(ports["bb"])},
                ],
            },
        ],
    }


@contextmanager
def running_stack(work: Path) -> Iterator[str]:
    """Start every component; yields the Prometheus base URL once all of them were scraped."""
    tools = {
        name: require_tool(name)
        for name in (
            "prometheus-node-exporter",
            "prometheus-blackbox-exporter",
        )
    }
    ports = {name: free_port() for name in ("prom", "node", "bb", "am")}
    blackbox = work / "blackbox.yml"
    blackbox.write_text(
        yaml.safe_dump(
            {
                "modules": {
                    "https_2xx": {
                        "prober": "http",
                        "http": {"tls_config": {"insecure_skip_verify": True}},
                    }
                }
            }
        )
    )
    alertmanager = work / "alertmanager.yml"
    alertmanager.write_text(
        yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    )
    rules = work / "rules.yml"
    rules.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "t", "rules": [{"alert": "Watchdog", "expr": "vector(1)"}]}]}
        )
    )
    with ExitStack() as stack:
        https_port = stack.enter_context(https_server(work))
        config = work / "prometheus.yml"
        config.write_text(yaml.safe_dump(_prometheus_config(ports, https_port, rules)))
        argvs = {
            "node": [
                tools["prometheus-node-exporter"],
                f"--web.listen-address=127.0.0.1:{ports['node']}",
                f"--collector.textfile.directory={certbot_report(work)}",
            ],
            "bb": [
                tools["prometheus-blackbox-exporter"],
                f"--web.listen-address=127.0.0.1:{ports['bb']}",
                f"--config.file={blackbox}",
            ],
        }
        for name, argv in argvs.items():
            stack.enter_context(running(argv, work / f"{name}.log", what=name))
        for server in (
            support.monitoring.alertmanager(alertmanager, work, ports["am"]),
            support.monitoring.prometheus(config, work, ports["prom"]),
        ):
            stack.enter_context(server.start_ready())
        base = f"http://127.0.0.1:{ports['prom']}"
        wait_for(
            lambda: MUST_SEE <= metric_names_in(base),
            timeout=60,
            what=f"Prometheus to see {sorted(MUST_SEE)} (logs in {work})",
        )
        yield base


def metric_names_in(base: str) -> set[str]:
    """Every metric name Prometheus holds (``/api/v1/label/__name__/values``)."""
    data = _get_json(f"{base}/api/v1/label/__name__/values")
    values = data.get("data")
    return {str(v) for v in values} if isinstance(values, list) else set()
