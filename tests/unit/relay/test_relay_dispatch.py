"""Backoff, channel failover notes, and workers that never block each other."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from napops.relay.dispatcher import Retry, Worker, backoff
from napops.relay.errors import ChannelError
from napops.relay.failover import ChannelFailover
from napops.relay.metrics import RelayMetrics
from napops.relay.outbox import Outbox
from napops.relay.render import Options


def test_backoff_grows_caps_and_jitters():
    r = Retry(initial_seconds=5, max_seconds=60, multiplier=2, jitter=0.2)
    assert [backoff(n, r, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert backoff(1, r, lambda: 0.0) == pytest.approx(4)
    assert backoff(1, r, lambda: 1.0) == pytest.approx(6)
    assert backoff(10, r, lambda: 1.0) == 60  # never over the cap


def test_failover_notes_only_for_other_channels_past_threshold():
    h = ChannelFailover("Asia/Bangkok", threshold=30)
    h.failed("email", 1_700_000_000, "SMTPConnectError: refused")
    h.failed("email", 1_700_000_005, "SMTPConnectError: refused")
    assert h.notes_for("rocketchat", 1_700_000_029) == []
    assert h.to_announce(1_700_000_029) == []
    note = "email delivery failing since 05:13: SMTPConnectError: refused"
    assert h.notes_for("rocketchat", 1_700_000_031) == [note]
    assert h.notes_for("email", 1_700_000_031) == []
    # a notice about email itself says so in its own words: no note repeating it
    assert h.notes_for("rocketchat", 1_700_000_031, about="email") == []
    [(channel, episode)] = h.to_announce(1_700_000_031)
    assert channel == "email" and episode.since == 1_700_000_000 and episode.failures == 2
    assert h.to_announce(1_700_000_200) == []  # once per episode
    ended = h.succeeded("email")
    assert ended is not None and ended.announced and ended.failures == 2
    assert h.succeeded("email") is None


def test_a_single_failed_attempt_is_not_told_however_long_ago():
    h = ChannelFailover("UTC", threshold=30)
    h.failed("email", 1000.0, "timed out")  # the next attempt is far off (long backoff)
    assert h.to_announce(5000.0) == [] and h.notes_for("rocketchat", 5000.0) == []
    h.failed("email", 5001.0, "timed out")
    assert [c for c, _ in h.to_announce(5001.0)] == ["email"]


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


def make(tmp_path, channels, clock, on_recovery=None):
    box = Outbox(tmp_path / "o.sqlite3")
    registry = CollectorRegistry()
    metrics = RelayMetrics(registry, [c.name for c in channels])
    failover = ChannelFailover("UTC", threshold=10)
    retry = Retry(1, 8, 2, 0)
    workers = {
        c.name: Worker(c, box, failover, metrics, Options(), retry, clock, on_recovery)
        for c in channels
    }
    return box, registry, failover, workers


def test_failing_channel_does_not_block_the_other(tmp_path):
    now = [1000.0]
    email, chat = FakeChannel("email", fail=True), FakeChannel("rocketchat")
    recovered = []
    box, registry, _, workers = make(
        tmp_path, [email, chat], lambda: now[0], lambda ch, ep: recovered.append(ch)
    )
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
    now[0] += 1
    workers["email"].step()  # a second failure: one alone is not told
    now[0] += 10
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
