"""certs sidecar benchmark (make bench): 500 local TLS targets (one Debian nginx listening on
500 loopback ports, three certificates of the test PKI), probed by napops-certs and, in the
same run, by prometheus-blackbox-exporter (tcp prober with TLS, the same 500 targets, the same
concurrency). Figures: /metrics latency with 500 cached targets, between rounds and while
rounds run (goal: p99 under 50 ms for both), the time of one full probe round (napops-certs:
its round, in a child process; blackbox: 500 /probe requests, 32 at a time), and the memory
(RSS) of each exporter after the rounds, with napops-certs' helper processes (forkserver) and
the peak of a round's child."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from certpki import DAY, Pki, write_chain

from helpers import free_port, machine_line, record_benchmark, require_tool, wait_for

pytestmark = pytest.mark.bench
TARGETS = 500
CONCURRENCY = 32
# rounds timed for the comparison: one round is about a second, and on two shared cores the
# median of 3 swung by 20 % between runs of the same code; that of 7 is steadier
ROUNDS = 7
ROUNDS_SCRAPED = 3  # rounds with scrapes running meanwhile
SCRAPES = 1000
BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789abcdef"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def pss_mib(pid: int) -> float:
    """Proportional set size of ``pid`` in MiB: pages shared with other processes count in
    part, so the sidecar's processes add up to what they use together."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (the forkserver and what it started)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def nginx_targets() -> Iterator[list[int]]:
    nginx = require_tool("nginx")
    root = Path(tempfile.mkdtemp(prefix="certs-bench-"))
    pki = Pki()
    chains = [
        write_chain(root, f"c{i}", pki.leaf("localhost", not_after=days * DAY), pki.inter)
        for i, days in enumerate((90, 20, 5))
    ]
    ports = free_ports(TARGETS)
    servers = "".join(
        f"server {{ listen 127.0.0.1:{p} ssl; ssl_certificate {chains[i % 3][0]}; "
        f"ssl_certificate_key {chains[i % 3][1]}; return 200; }}\n"
        for i, p in enumerate(ports)
    )
    conf = root / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; client_body_temp_path {root}/t; proxy_temp_path {root}/t;"
        f" fastcgi_temp_path {root}/t; uwsgi_temp_path {root}/t; scgi_temp_path {root}/t;\n"
        f"{servers}}}\n"
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root), "-g", "daemon off;"])
    try:
        import socket

        wait_for(lambda: socket.create_connection(("127.0.0.1", ports[-1]), 1), what="nginx")
        yield ports
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def napops_certs(ports: list[int], tmp: Path) -> dict[str, object]:
    config = {
        "api": {"token": TOKEN},
        "certs": {
            "schedule": "0 0 1 1 *",  # rounds are triggered here, not by the clock
            "timeout_seconds": 10,
            "concurrency": CONCURRENCY,
            "endpoints": [{"target": f"localhost:{p}"} for p in ports],
        },
    }
    (tmp / "certs.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "napops-certs"), "--config", str(tmp / "certs.yml")],
        env={"PATH": "/usr/bin:/bin", "NAPOPS__LISTEN__PORT": str(port),
             "NAPOPS__STATE_DIR": str(tmp / "state"), "NAPOPS__LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_for(lambda: session.get(f"{url}/healthz", timeout=2).ok, what="napops-certs")

        def idle() -> bool:
            status = session.get(f"{url}/status", timeout=5).json()["jobs"]["probe"]
            return status["running"] is None and status["last"] is not None

        wait_for(idle, timeout=300, what="the start-up round")
        rounds, child_peaks = [], []
        for _ in range(ROUNDS):
            run_id = session.post(f"{url}/jobs/probe/run", headers=auth, timeout=10).json()[
                "run_id"
            ]
            done = wait_for(
                lambda rid=run_id: (
                    (r := session.get(f"{url}/jobs/runs/{rid}", timeout=5).json()).get("state")
                    in ("success", "failed")
                    and r
                ),
                timeout=300,
                interval=0.05,
                what="a probe round",
            )
            rounds.append(done["finished"] - done["started"])
            child_peaks.append(done["summary"]["probe_process_peak_rss_bytes"] / 2**20)
        text = session.get(f"{url}/metrics", timeout=10).text
        raw = session.get(f"{url}/metrics", timeout=10, stream=True)
        wire = len(raw.raw.read(decode_content=False))
        ok = text.count('napops_certs_probe_success{kind="endpoint",reason="ok"')
        latencies = []
        for _ in range(SCRAPES):
            t0 = time.perf_counter()
            r = session.get(f"{url}/metrics", timeout=10, stream=True)
            r.raw.read(decode_content=False)  # as Prometheus: gzip, decoded by the scraper
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200
        # and while rounds run (Prometheus scrapes every 3 s, a round runs every minute)
        during: list[float] = []
        for _ in range(ROUNDS_SCRAPED):
            run_id = session.post(f"{url}/jobs/probe/run", headers=auth, timeout=10).json()[
                "run_id"
            ]
            while True:
                t0 = time.perf_counter()
                r = session.get(f"{url}/metrics", timeout=10, stream=True)
                r.raw.read(decode_content=False)
                during.append(time.perf_counter() - t0)
                state = session.get(f"{url}/jobs/runs/{run_id}", timeout=5).json().get("state")
                if state in ("success", "failed"):
                    break
        rss, peak = rss_mib(proc.pid)
        helpers = sum(rss_mib(p)[0] for p in descendants(proc.pid))
        pss = sum(pss_mib(p) for p in [proc.pid, *descendants(proc.pid)])
        return {"rounds": rounds, "ok": ok, "latencies": latencies, "rss": rss, "peak": peak,
                "bytes": len(text), "wire": wire, "during": during, "helpers": helpers, "pss": pss,
                "child_peak": max(child_peaks)}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)


def blackbox(ports: list[int], tmp: Path) -> dict[str, object]:
    binary = require_tool("prometheus-blackbox-exporter")
    (tmp / "blackbox.yml").write_text(
        yaml.safe_dump(
            {
                "modules": {
                    "tls": {
                        "prober": "tcp",
                        "timeout": "10s",
                        "tcp": {
                            "tls": True,
                            "preferred_ip_protocol": "ip4",
                            "tls_config": {"insecure_skip_verify": True},
                        },
                    }
                }
            }
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp / 'blackbox.yml'}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/-/healthy", timeout=2).ok, what="blackbox")

        def probe(p: int) -> bool:
            r = requests.get(
                f"{url}/probe", params={"target": f"localhost:{p}", "module": "tls"}, timeout=15
            )
            return "probe_success 1" in r.text and "probe_ssl_earliest_cert_expiry" in r.text

        rounds, ok = [], 0
        for _ in range(ROUNDS):
            t0 = time.monotonic()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                ok = sum(pool.map(probe, ports))
            rounds.append(time.monotonic() - t0)
        rss, peak = rss_mib(proc.pid)
        return {"rounds": rounds, "ok": ok, "rss": rss, "peak": peak}
    finally:
        proc.terminate()
        proc.wait(30)


def test_certs_500_targets(nginx_targets: list[int], tmp_path: Path) -> None:
    load_before = os.getloadavg()[0]
    ours = napops_certs(nginx_targets, tmp_path)
    theirs = blackbox(nginx_targets, tmp_path)
    load_after = os.getloadavg()[0]
    lat = [x * 1000 for x in ours["latencies"]]  # type: ignore[attr-defined]
    during = [x * 1000 for x in ours["during"]]  # type: ignore[attr-defined]
    our_round = statistics.median(ours["rounds"])  # type: ignore[arg-type]
    bb_round = statistics.median(theirs["rounds"])  # type: ignore[arg-type]
    fmt = ", ".join
    table = [
        "## certs sidecar: 500 TLS targets",
        "",
        machine_line() + f"; load average {load_before:.1f} before, {load_after:.1f} after "
        "(a shared machine: latencies include waiting for a core).",
        "Rerun: `make bench PYTEST_ARGS='-k certs'`, or alone: `.venv/bin/python -m pytest "
        "tests/bench -s -p no:cacheprovider -k certs` (tests/bench/test_certs_bench.py). "
        "Targets: one "
        f"nginx on {TARGETS} loopback ports, three certificates (leaf + intermediate of a test "
        f"PKI); both exporters probe with concurrency {CONCURRENCY} and a 10 s timeout; "
        f"{ROUNDS} rounds each, median shown.",
        "",
        "| what | napops-certs | prometheus-blackbox-exporter |",
        "|---|---|---|",
        f"| targets read successfully | {ours['ok']} of {TARGETS} | {theirs['ok']} of {TARGETS} |",
        f"| full round of {TARGETS} targets (median) | {our_round:.2f} s "
        f"({fmt(f'{r:.2f}' for r in ours['rounds'])}) | {bb_round:.2f} s "  # type: ignore[attr-defined]
        f"({fmt(f'{r:.2f}' for r in theirs['rounds'])}; "  # type: ignore[attr-defined]
        f"500 /probe calls, {CONCURRENCY} at a time) |",
        f"| /metrics with {TARGETS} cached targets, {SCRAPES} sequential scrapes | p50 "
        f"{pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms "
        f"({ours['bytes']} bytes, {ours['wire']} gzip-compressed as scraped) "
        "| n/a (no cache: every scrape probes) |",
        f"| /metrics while {ROUNDS_SCRAPED} rounds of {TARGETS} targets run "
        f"({len(during)} sequential scrapes; the rounds run in a child process) "
        f"| p50 {pct(during, 50):.1f} ms, p99 {pct(during, 99):.1f} ms, max {max(during):.1f} ms "
        "| n/a |",
        f"| memory after the rounds (RSS / peak) | {ours['rss']:.0f} / {ours['peak']:.0f} MiB "
        f"(the sidecar's process); helper processes (forkserver, resource tracker) "
        f"{ours['helpers']:.0f} MiB; a round's child: peak {ours['child_peak']:.0f} MiB "
        "(shares the forkserver's pages); all of them together, proportional set size: "
        f"{ours['pss']:.0f} MiB "
        f"| {theirs['rss']:.0f} / {theirs['peak']:.0f} MiB |",
        "",
        "napops-certs also verifies every chain against its trust store and keeps the dates "
        "of expired certificates; the blackbox module here skips verification "
        "(insecure_skip_verify), which is the only way it reports expiry of untrusted chains.",
    ]
    print("\n".join(table))
    record_benchmark("certs", "\n".join(table))
    assert ours["ok"] == TARGETS and theirs["ok"] == TARGETS
    assert pct(lat, 99) < 50, "goal: /metrics p99 under 50 ms"
    assert pct(during, 99) < 50, "goal: /metrics p99 under 50 ms while a round runs too"
    assert our_round <= bb_round * 1.1, "the exporter's round must not be slower than blackbox"
