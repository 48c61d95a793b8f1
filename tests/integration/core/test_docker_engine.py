"""Engine against the real Docker Engine: find by label and Compose service, exec with streamed
stdout (and its exit status checked), copy a file in, read a path out, stop and start."""

from __future__ import annotations

import contextlib
import io
import tarfile

import pytest

from napops.core.dockerhost import DockerError, Engine

pytestmark = pytest.mark.e2e


def test_a_container_removed_while_listing_is_left_out(
    engine: Engine, box: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = f"{box}-gone"
    gone_id = engine.client.containers.run(
        engine.inspect(box)["Config"]["Image"],
        ["sleep", "300"],
        name=gone,
        detach=True,
        labels={"napops.backup": "x"},
    ).id
    api = engine.client.api
    inspect = api.inspect_container

    def removed_first(container: str) -> object:  # the race made certain: gone before inspect
        if container == gone_id:
            engine.remove(gone)
        return inspect(container)

    monkeypatch.setattr(api, "inspect_container", removed_first)
    try:
        found = {c.name for c in engine.containers(labels={"napops.backup": None})}
    finally:
        monkeypatch.undo()
        with contextlib.suppress(DockerError):  # left behind only when the listing failed
            engine.remove(gone)
    assert box in found and gone not in found


def test_exec_streams_stdout_without_buffering_it_all(engine: Engine, box: str) -> None:
    stream = engine.exec_stream(box, ["sh", "-c", "head -c 5000000 /dev/zero; echo done >&2"])
    sizes = [len(chunk) for chunk in stream]
    assert sum(sizes) == 5_000_000 and len(sizes) > 1  # arrived in many chunks
    stream.check()
    assert stream.exit_code == 0 and "done" in stream.stderr


def test_a_failing_command_fails_even_after_its_output_was_read(engine: Engine, box: str) -> None:
    stream = engine.exec_stream(
        box, ["sh", "-c", "echo partial; echo 'dump: access denied' >&2; exit 2"]
    )
    assert b"".join(stream) == b"partial\n"
    with pytest.raises(DockerError, match="exit status 2: dump: access denied"):
        stream.check()


def test_copy_in_and_read_out(engine: Engine, box: str) -> None:
    engine.put_file(box, "/tmp/secret.cnf", b"[client]\npassword=x\n", mode=0o600)
    result = engine.exec_run(box, ["stat", "-c", "%a %s", "/tmp/secret.cnf"])
    assert result.exit_code == 0 and result.stdout.decode().split() == ["600", "20"]
    stream, stat = engine.get_archive(box, "/tmp/secret.cnf")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile("secret.cnf")
        assert member is not None and member.read() == b"[client]\npassword=x\n"
    assert stat["size"] == 20


def test_stop_start_and_health(engine: Engine, box: str) -> None:
    assert engine.health(box) == "none"
    engine.stop(box, timeout=1)
    assert engine.health(box) == "exited"
    engine.start(box)
    assert engine.health(box) == "none"


def test_errors_name_what_failed(engine: Engine) -> None:
    with pytest.raises(DockerError, match="container no-such-container-xyz: not found"):
        engine.get("no-such-container-xyz")
    with pytest.raises(DockerError, match="cannot reach the engine"):
        Engine({"host": "tcp://127.0.0.1:1", "timeout_seconds": 2}).ping_or_raise()
