"""The command runner against real programs: capture, streaming in and out, timeouts, exit
codes mapped to reasons, stderr tails in errors."""

from __future__ import annotations

import time

import pytest

from napops.core import commands
from napops.core.commands import CommandFailed, CommandNotFound, CommandTimeout

pytestmark = pytest.mark.integration


def test_captures_stdout_and_keeps_a_stderr_tail():
    result = commands.run(["sh", "-c", "echo out; echo err >&2"], timeout=10)
    assert result.text == "out\n" and result.stderr_tail == "err\n" and result.returncode == 0


def test_streams_stdin_chunks_through_a_program_to_a_callback():
    got: list[bytes] = []
    chunks = (bytes([65 + i % 26]) * 65536 for i in range(64))  # 4 MiB, never all in memory
    result = commands.run(["cat"], timeout=30, stdin_chunks=chunks, on_stdout=got.append)
    data = b"".join(got)
    assert len(data) == 64 * 65536 and data[:1] == b"A" and result.stdout == b""


def test_exit_codes_become_reasons_and_unknown_codes_still_fail():
    reasons = {3: "some source files could not be read"}
    with pytest.raises(CommandFailed) as failed:
        commands.run(
            ["sh", "-c", "echo 'Fatal: bad thing' >&2; exit 3"], timeout=10, reasons=reasons
        )
    err = failed.value
    assert err.returncode == 3 and err.reason == "some source files could not be read"
    assert "Fatal: bad thing" in str(err)
    with pytest.raises(CommandFailed, match="exit status 7"):
        commands.run(["sh", "-c", "exit 7"], timeout=10, reasons=reasons)
    assert commands.run(["sh", "-c", "exit 3"], timeout=10, ok_codes=(0, 3)).returncode == 3


def test_a_timeout_kills_the_whole_process_group():
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="timed out after 0.5s"):
        commands.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)
    assert time.monotonic() - started < 10


def test_a_missing_program_is_a_clear_error():
    with pytest.raises(CommandNotFound, match="no-such-program-xyz: program not found"):
        commands.run(["no-such-program-xyz"], timeout=5)


def test_a_failing_producer_stops_the_program_and_is_raised():
    def chunks():
        yield b"partial"
        raise OSError("the dump broke")

    with pytest.raises(OSError, match="the dump broke"):
        commands.run(["cat"], timeout=10, stdin_chunks=chunks(), on_stdout=lambda _: None)
