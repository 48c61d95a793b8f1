"""Relay benchmarks (make bench): failure to inbox, and relay throughput.

Failure to inbox: real Prometheus + Alertmanager (project rules/routes when present) + relay
+ aiosmtpd + Rocket.Chat receiver; stop a scraped target and time until the email is in the
SMTP server and until Rocket.Chat got the post; >= 10 trials, each on its own target.
Throughput: notifications accepted per second (HTTP 200 = committed to the outbox) and
delivered per second per channel.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
from support.alerting import Stack, Target
from support.relay import (
    TOKEN,
    RelayProcess,
    RocketChatReceiver,
    SmtpServer,
    base_config,
    webhook,
)

from helpers import machine_line, record_benchmark, wait_for

pytestmark = pytest.mark.bench

TRIALS = 10
RESULTS: dict[str, str] = {}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} | {pct(values, 95):.1f} | {max(values):.1f}"


def _relay(tmp_path: Path, smtp: SmtpServer, chat: RocketChatReceiver, **kw: object):
    cfg = base_config(tmp_path / "state", smtp, chat, **kw)
    cfg["log_level"] = "WARNING"
    return RelayProcess(tmp_path, cfg).start()


def test_failure_to_inbox(tmp_path):
    smtp, chat = SmtpServer(tmp_path).start(), RocketChatReceiver().start()
    targets = [Target().start() for _ in range(TRIALS)]
    relay = _relay(tmp_path, smtp, chat)
    stack = Stack(tmp_path, relay.url, TOKEN, targets[0])
    stack.write_configs = _multi_target_configs(stack, targets)  # type: ignore[method-assign]
    email_s: list[float] = []
    chat_s: list[float] = []
    try:
        stack.start()
        wait_for(lambda: stack.target_up() == 1, timeout=60)
        for target in targets:
            instance = f"127.0.0.1:{target.port}"
            t0 = time.monotonic()
            target.stop()
            got: dict[str, float] = {}

            def arrived(
                instance: str = instance, got: dict[str, float] = got, t0: float = t0
            ) -> bool:
                if "email" not in got and any(instance in b for b in smtp.bodies()):
                    got["email"] = time.monotonic() - t0
                if "chat" not in got and any(
                    instance in a.get("text", "") for p in chat.posts for a in p["attachments"]
                ):
                    got["chat"] = time.monotonic() - t0
                return len(got) == 2

            wait_for(arrived, timeout=120, interval=0.05, what=f"alert for {instance}")
            email_s.append(got["email"])
            chat_s.append(got["chat"])
            target.start()
        inside = {ch: _mean_ms(relay, ch) for ch in ("email", "rocketchat")}
    finally:
        stack.stop()
        relay.kill()
        for target in targets:
            target.stop()
        smtp.stop()
        chat.stop()
    source = "the project's prometheus/rules and alertmanager/alertmanager.yml"
    iv = stack.intervals
    RESULTS["inbox"] = "\n".join(
        [
            f"Failure to inbox, {TRIALS} trials (seconds from stopping a scraped target):",
            "",
            "| channel | p50 | p95 | max |",
            "|---|---|---|---|",
            f"| email (in the SMTP server) | {summary(email_s)} |",
            f"| Rocket.Chat (post received) | {summary(chat_s)} |",
            "",
            f"Spec: max <= 30 s; goal: p95 <= 15 s. Config: {source}; "
            + ", ".join(f"{k} {v}" for k, v in iv.items())
            + ".",
            f"Raw email: {', '.join(f'{v:.1f}' for v in email_s)}",
            f"Of this, time inside the relay (receipt to delivered, mean of "
            f'napops_relay_delivery_latency_seconds{{since="receipt"}}): email '
            f"{inside['email']:.0f} ms, Rocket.Chat {inside['rocketchat']:.0f} ms; the rest is "
            "scrape, rule `for`, evaluation and Alertmanager group_wait.",
        ]
    )
    _write()


def _mean_ms(relay: RelayProcess, channel: str) -> float:
    total = relay.metric(
        "napops_relay_delivery_latency_seconds_sum", channel=channel, since="receipt"
    )
    count = relay.metric(
        "napops_relay_delivery_latency_seconds_count", channel=channel, since="receipt"
    )
    return 1000 * (total or 0) / (count or 1)


def _multi_target_configs(stack: Stack, targets: list[Target]):
    original = stack.write_configs

    def write() -> tuple[Path, Path]:
        import yaml

        prom_path, am_path = original()
        prom = yaml.safe_load(prom_path.read_text())
        prom["scrape_configs"][0]["static_configs"][0]["targets"] = [
            f"127.0.0.1:{t.port}" for t in targets
        ]
        prom_path.write_text(yaml.safe_dump(prom))
        return prom_path, am_path

    return write


def test_throughput(tmp_path):
    smtp, chat = SmtpServer(tmp_path).start(), RocketChatReceiver().start()
    relay = _relay(tmp_path, smtp, chat)
    n, threads = 400, 4
    errors: list[int] = []
    try:
        t0 = time.monotonic()

        def sender(k: int) -> None:
            for i in range(k, n, threads):
                status = relay.post(webhook(f"Load{i:04d}")).status_code
                if status != 200:
                    errors.append(status)

        workers = [threading.Thread(target=sender, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        accepted = time.monotonic() - t0
        done: dict[str, float] = {}

        def delivered() -> bool:
            if "chat" not in done and len(chat.posts) >= n:
                done["chat"] = time.monotonic() - t0
            if "email" not in done and len(smtp.messages) >= n:
                done["email"] = time.monotonic() - t0
            return len(done) == 2

        wait_for(delivered, timeout=600, interval=0.05, what="all delivered")
    finally:
        relay.kill()
        smtp.stop()
        chat.stop()
    assert errors == []
    RESULTS["throughput"] = "\n".join(
        [
            f"Throughput: {n} distinct notifications posted by {threads} concurrent clients.",
            "",
            "| measure | per second |",
            "|---|---|",
            f"| accepted (200 after the fsync'd commit) | {n / accepted:.0f} |",
            f"| delivered to Rocket.Chat (local receiver) | {n / done['chat']:.0f} |",
            f"| delivered by email (aiosmtpd, STARTTLS + AUTH, one kept session) "
            f"| {n / done['email']:.0f} |",
        ]
    )
    _write()


def _write() -> None:
    parts = [
        "## relay",
        "",
        f"Machine: {machine_line()}",
        "",
        "Rerun: `make bench PYTEST_ARGS='-k relay'` (tests/bench/test_relay_bench.py).",
        "",
    ]
    parts += [RESULTS[k] + "\n" for k in ("inbox", "throughput") if k in RESULTS]
    record_benchmark("relay", "\n".join(parts))
