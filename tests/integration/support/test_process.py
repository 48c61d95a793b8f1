"""tests/support/process.py on real child processes: a failure says why, with the program's
own output; stop() ends even a process that ignores SIGTERM; serving() yields once the server
answers."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from support.process import Process, serving

from helpers import free_port, holds_for

pytestmark = pytest.mark.integration

PY = sys.executable


def test_a_process_that_exits_fails_the_wait_at_once_with_its_output(tmp_path: Path) -> None:
    proc = Process([PY, "-c", "print('bad config: line 3'); raise SystemExit(4)"], tmp_path / "l")
    started = time.monotonic()
    with pytest.raises(AssertionError) as err:
        proc.start().wait_ready(lambda: False, timeout=30)
    assert time.monotonic() - started < 10  # not the whole timeout
    assert "exited with status 4" in str(err.value)
    assert "bad config: line 3" in str(err.value)


def test_a_process_never_ready_times_out_with_its_output(tmp_path: Path) -> None:
    code = "import time; print('still loading', flush=True); time.sleep(60)"
    with Process([PY, "-c", code], tmp_path / "l", name="loader") as proc:
        proc.start()
        with pytest.raises(AssertionError) as err:
            proc.wait_ready(lambda: False, timeout=1.5, what="loader ready")
    assert "timed out after 1.5s waiting for loader ready" in str(err.value)
    assert "still loading" in str(err.value)
    assert not proc.running


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = Process([PY, "-c", code], tmp_path / "l").start()
    proc.wait_ready(lambda: "ready" in proc.log.read_text(), timeout=20)
    assert proc.stop(timeout=1) == -signal.SIGKILL
    assert not proc.running


def test_the_log_keeps_the_output_of_every_run(tmp_path: Path) -> None:
    proc = Process([PY, "-c", "print('run')"], tmp_path / "l")
    for _ in range(2):
        assert proc.start().wait() == 0
    assert proc.log.read_text().split() == ["run", "run"]


def test_serving_yields_once_the_server_answers_and_stops_it(tmp_path: Path) -> None:
    import urllib.request

    port = free_port()
    argv = [PY, "-m", "http.server", "--bind", "127.0.0.1", str(port), "-d", str(tmp_path)]
    with serving(argv, f"http://127.0.0.1:{port}/", "http.server") as url:
        assert urllib.request.urlopen(url, timeout=5).status == 200

    def refused() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
        except OSError:
            return True
        return False

    holds_for(refused, seconds=0.5, what="the server stays stopped")
