"""The output of a command run in a container (``docker exec``), read without losing its start.

The engine answers ``POST /exec/<id>/start`` with HTTP headers, then the command's standard
output and error multiplexed in frames (8 bytes: stream, 0, 0, 0, length big-endian; then the
data). docker-py reads those frames from the raw socket *under* the HTTP response's buffered
reader. When the first frames arrive together with the headers (a quick command on a loaded
machine, or through a proxy such as the Docker socket proxies, which forwards them in one
segment), the buffered reader has already taken them and they are lost: a command's output
comes back empty or cut at the front (docker/docker-py#3332). A backup item then parsed
``redis-cli TIME`` as one word, or a dump could lose its first lines.

:func:`start` asks for the same stream and reads every frame through the response's own
reader, so what came with the headers is read first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

STDOUT = 1


def start(api: Any, exec_id: str) -> Iterator[tuple[bytes | None, bytes | None]]:
    """Start exec ``exec_id`` (created by ``api.exec_create``, no TTY) and yield its output as
    (stdout, stderr) chunks, one side set; the response is closed at the end."""
    # the request docker-py's own exec_start sends (docker/api/exec_api.py)
    response = api._post_json(
        api._url("/exec/{0}/start", exec_id),
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        data={"Tty": False, "Detach": False},
        stream=True,
    )
    api._raise_for_status(response)
    return _chunks(response)


def _chunks(response: Any) -> Iterator[tuple[bytes | None, bytes | None]]:
    try:
        yield from frames(response.raw._fp.fp)
    finally:
        # over ssh:// with the ssh binary, closing writes to an ssh that has already exited
        # with the stream: a broken pipe that loses nothing
        with contextlib.suppress(OSError):
            response.close()


def frames(reader: Any) -> Iterator[tuple[bytes | None, bytes | None]]:
    """The (stdout, stderr) frames of Docker's multiplexed stream read from ``reader`` (a
    file-like object whose ``read(n)`` returns n bytes unless the stream ends). A frame cut by
    the end of the stream yields what arrived, then stops: the exit status tells the rest."""
    while True:
        header = reader.read(8)
        if len(header) < 8:
            return
        length = int.from_bytes(header[4:8], "big")
        data = reader.read(length) if length else b""
        if data:
            yield (data, None) if header[0] == STDOUT else (None, data)
        if len(data) < length:
            return
