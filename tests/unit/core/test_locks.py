"""Locks: exclusive per key and visible holders (recovery from a dead holder: integration)."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry

from napops.core.locks import LockBusy, Locks


def test_one_holder_per_key_and_holders_are_visible(tmp_path):
    reg = CollectorRegistry()
    locks = Locks(tmp_path, reg)
    with locks.hold("backend", "run-1") as held:
        assert held.recovered_from is None
        assert reg.get_sample_value("napops_lock_held", {"key": "backend"}) == 1
        with pytest.raises(LockBusy, match="run-1"):
            with locks.hold("backend", "run-2"):
                pass
        with locks.hold("frontend", "run-3"):  # other keys are independent
            holders = {h["key"]: h for h in locks.holders()}
            assert holders["backend"]["run_id"] == "run-1"
            assert holders["frontend"]["pid"] == os.getpid()
    assert reg.get_sample_value("napops_lock_held", {"key": "backend"}) == 0
    assert locks.holders() == []
    with locks.hold("backend", "run-4") as again:
        assert again.recovered_from is None  # released cleanly: nothing to recover


def test_invalid_keys_are_refused(tmp_path):
    with pytest.raises(Exception, match="invalid lock key"):
        with Locks(tmp_path).hold("../etc/passwd", "r"):
            pass


def test_waiting_for_a_lock_gives_up_after_the_wait(tmp_path):
    locks = Locks(tmp_path)
    with locks.hold("k", "a"):
        with pytest.raises(LockBusy):
            with locks.hold("k", "b", wait_seconds=0.2):
                pass
