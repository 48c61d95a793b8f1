"""A lock whose holder process was killed is free again, and the next holder sees whose it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from helpers import wait_for
from napops.core.locks import LockBusy, Locks

pytestmark = pytest.mark.integration


def test_a_lock_of_a_killed_process_is_recovered(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(os.path.dirname(os.path.dirname(__import__("napops").__file__)))!r})
        from napops.core.locks import Locks
        with Locks({str(tmp_path)!r}).hold("mariadb", "run-dead"):
            print("held", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    locks = Locks(tmp_path)
    with pytest.raises(LockBusy, match="run-dead"):
        with locks.hold("mariadb", "run-new"):
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: locks.holders() == [], timeout=5, what="the dead holder's lock to free")
    with locks.hold("mariadb", "run-new") as held:
        assert held.recovered_from is not None and held.recovered_from["run_id"] == "run-dead"
