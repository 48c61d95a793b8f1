"""A unit test starts no process and opens no network connection: tests/unit is fast and runs
anywhere. Every test here runs with process creation and socket bind/connect refused; one that
tries fails, even if the code under test catches the error, and belongs in tests/integration.
(socketpair, which asyncio and threads use inside one process, stays allowed.)"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3  # noqa: F401 - its import probes IPv6 by binding ::1 once; do that here, not in a test


class StartsSomething(RuntimeError):
    """A unit test started a process or opened a socket."""


@pytest.fixture(autouse=True)
def _starts_no_process_and_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    attempts: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            detail = next((repr(a) for a in args[1:2]), "")
            attempts.append(f"{what} {detail}".strip())
            raise StartsSomething(f"a unit test {what}; move it to tests/integration")

        return refused

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("started a process"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse(f"called os.{name}"))
    for name in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse(f"called socket.{name}"))
    yield
    if attempts:
        pytest.fail(
            "a test under tests/unit starts no process and opens no socket, but this one "
            f"tried: {'; '.join(attempts)}. Move it to tests/integration.",
            pytrace=False,
        )
