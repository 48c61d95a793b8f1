"""Backoff, channel health notes, and workers that never block each other."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from napops.relay.dispatcher import Retry, Worker, backoff
from napops.relay.errors import ChannelError
from napops.relay.health import ChannelHealth
from napops.relay.metrics import RelayMetrics
from napops.relay.outbox import Outbox
from napops.relay.render import Options


def test_backoff_grows_caps_and_jitters():
    r = Retry(initial_seconds=5, max_seconds=60, multiplier=2, jitter=0.2)
    assert [backoff(n, r, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert backoff(1, r, lambda: 0.0) == pytest.approx(4)
    assert backoff(1, r, lambda: 1.0) == pytest.approx(6)
    assert backoff(10, r, lambda: 1.0) == 60  # never over the cap


def test_health_notes_only_for_other_channels_past_threshold():
    h = ChannelHealth("Asia/Bangkok", threshold=120)
    h.failed("email", 1_700_000_000, "SMTPConnectError: refused")
    assert h.notes_for("rocketchat", 1_700_000_060) == []
    assert h.to_announce(1_700_000_060) == []
    note = "email delivery failing since 05:13: SMTPConnectError: refused"
    assert h.notes_for("rocketchat", 1_700_000_121) == [note]
    assert h.notes_for("email", 1_700_000_121) == []
    assert h.to_announce(1_700_000_121) == [("email", note)]
    assert h.to_announce(1_700_000_200) == []  # once per episode
    ended = h.succeeded("email")
    assert ended is not None and ended.announced and ended.failures == 1
    assert h.succeeded("email") is None


class FakeChannel:
    def __init__(self, name: str, fail: bool = False):
        self.name, self.fail, self.sent = name, fail, []

    def send(self, rendered, body):
        if self.fail:
            raise ChannelError("down")
        self.sent.append(rendered.subject)

    def close(self):
        pass


def notice(title):
    return {"title": title, "text": "", "severity": "info", "status": "firing"}


def make(tmp_path, channels, clock):
    box = Outbox(tmp_path / "o.sqlite3")
    registry = CollectorRegistry()
    metrics = RelayMetrics(registry, [c.name for c in channels])
    health = ChannelHealth("UTC", threshold=10)
    retry = Retry(1, 8, 2, 0)
    workers = {c.name: Worker(c, box, health, metrics, Options(), retry, clock) for c in channels}
    return box, registry, health, workers


def test_failing_channel_does_not_block_the_other(tmp_path):
    now = [1000.0]
    email, chat = FakeChannel("email", fail=True), FakeChannel("rocketchat")
    box, registry, health, workers = make(tmp_path, [email, chat], lambda: now[0])
    for i in range(3):
        box.add("notice", notice(f"n{i}"), ["email", "rocketchat"], now=now[0])
    assert workers["email"].step() == pytest.approx(1)  # backs off after the first failure
    workers["rocketchat"].step()
    assert chat.sent == ["n0", "n1", "n2"] and email.sent == []
    assert registry.get_sample_value("napops_relay_failed_total", {"channel": "email"}) == 1
    assert registry.get_sample_value("napops_relay_delivered_total", {"channel": "rocketchat"}) == 3
    # blocked until the backoff passes: no attempt at all
    now[0] += 0.5
    workers["email"].step()
    assert registry.get_sample_value("napops_relay_failed_total", {"channel": "email"}) == 1
    now[0] += 1
    assert workers["email"].step() == pytest.approx(2)  # second failure doubles
    # after the threshold, messages on the other channel carry the note
    now[0] += 10
    box.add("notice", notice("later"), ["rocketchat"], now=now[0])
    workers["rocketchat"].step()
    email.fail = False
    now[0] += 2
    recovered = []
    workers["email"].on_recovery = lambda ch, ep: recovered.append(ch)
    workers["email"].step()
    assert sorted(email.sent) == ["n0", "n1", "n2"] and recovered == ["email"]
    assert (
        registry.get_sample_value(
            "napops_relay_delivery_latency_seconds_count", {"channel": "email", "since": "receipt"}
        )
        == 3
    )
    assert registry.get_sample_value("napops_relay_channel_failing", {"channel": "email"}) == 0


def test_note_is_rendered_into_messages_on_the_other_channel(tmp_path):
    now = [1000.0]
    seen = []

    class Recording(FakeChannel):
        def send(self, rendered, body):
            seen.append(rendered.text)

    email, chat = FakeChannel("email", fail=True), Recording("rocketchat")
    box, _, _, workers = make(tmp_path, [email, chat], lambda: now[0])
    box.add("notice", notice("x"), ["email"], now=now[0])
    workers["email"].step()
    now[0] += 11
    box.add("notice", notice("y"), ["rocketchat"], now=now[0])
    workers["rocketchat"].step()
    assert seen[0].startswith("NOTE: email delivery failing since 00:16: down")


def test_queue_metrics_read_the_outbox(tmp_path):
    now = [1000.0]
    box, registry, _, _ = make(tmp_path, [FakeChannel("email")], lambda: now[0])
    box.add("notice", notice("x"), ["email"], now=990)
    from napops.relay.metrics import _QueueCollector

    registry.register(_QueueCollector(box.stats, ["email"], lambda: now[0]))
    assert registry.get_sample_value("napops_relay_queue_depth", {"channel": "email"}) == 1
    assert (
        registry.get_sample_value(
            "napops_relay_oldest_undelivered_age_seconds", {"channel": "email"}
        )
        == 10
    )


def test_a_message_the_server_refuses_does_not_hold_up_the_others(tmp_path):
    now = [1000.0]

    class Picky(FakeChannel):
        def send(self, rendered, body):
            if rendered.subject == "poison":
                raise ChannelError("550 refused")
            self.sent.append(rendered.subject)

    email = Picky("email")
    box, _, _, workers = make(tmp_path, [email], lambda: now[0])
    for title in ("poison", "a", "b"):
        box.add("notice", notice(title), ["email"], now=now[0])
    for _ in range(4):
        workers["email"].step()
        now[0] += 10
    assert email.sent == ["a", "b"]
    assert box.count("pending") == 1  # still kept and retried, never dropped
