"""restic's exit codes and 0.14's messages become reasons; an unknown code is a failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from napops.backup.restic import Restic, ResticError, classify
from napops.core import commands


@pytest.mark.parametrize(
    ("code", "stderr", "reason"),
    [
        (1, "Fatal: wrong password or no key found\n", "wrong password for the repository"),
        (12, "", "wrong password for the repository"),
        (
            1,
            "Fatal: unable to open config file: stat /r/config: no such file or directory\n"
            "Is there a repository at the following location?\n/r\n",
            "the repository does not exist",
        ),
        (10, "", "the repository does not exist"),
        (11, "", "the repository is locked by another process"),
        (
            1,
            "unable to create lock in backend: repository is already locked by PID 7\n",
            "the repository is locked by another process",
        ),
        (
            3,
            "error: read /x: permission denied\n",
            "some source data could not be read (the snapshot is incomplete)",
        ),
        (1, "Fatal: boom\n", "fatal error (restic could not do it)"),
        (42, "", "unknown exit status 42 (treated as a failure)"),
    ],
)
def test_exit_codes_become_reasons(code: int, stderr: str, reason: str) -> None:
    assert classify(code, stderr) == reason


def _failing(code: int, stderr: str) -> Any:
    def run(argv: Sequence[str], **kw: Any) -> commands.Result:
        raise commands.CommandFailed(argv, f"exit status {code}", code, stderr)

    return run


def test_a_failure_is_a_restic_error_with_its_reason_and_last_line() -> None:
    r = Restic(
        "/repo", "/pw", run=_failing(1, "open repository\nFatal: wrong password or no key found\n")
    )
    with pytest.raises(ResticError) as err:
        r.call("snapshots")
    assert (
        str(err.value) == "restic snapshots: wrong password for the repository: "
        "Fatal: wrong password or no key found"
    )
    assert err.value.wrong_password and not err.value.unreachable


def test_unreachable_is_told_apart_from_other_failures() -> None:
    lost = ResticError(
        "x", 1, "Save(<data/1234>) returned error: open /repo/data/12: no such file or directory"
    )
    assert lost.unreachable
    assert not ResticError("x", 1, "Fatal: some other problem").unreachable
    assert ResticError("x", 11, "").locked


def test_the_password_and_repository_go_in_the_environment_never_argv() -> None:
    seen: dict[str, Any] = {}

    def run(argv: Sequence[str], **kw: Any) -> commands.Result:
        seen["argv"], seen["env"] = list(argv), kw["env"]
        out = (
            b'{"message_type":"summary","files_new":1,"total_bytes_processed":5,'
            b'"data_added":9,"total_duration":0.1,"snapshot_id":"abcd1234"}\n'
        )
        kw["on_stdout"](out)
        return commands.Result(list(argv), 0, b"", "", 0.1)

    summary = Restic("/repo", "/run/secrets/pw", run=run, host="asustor").backup_stdin(
        "mariadb/all.sql", [b"hello"], {"service": "mariadb", "env": "prod"}
    )
    assert seen["argv"] == [
        "restic",
        "backup",
        "--stdin",
        "--stdin-filename",
        "mariadb/all.sql",
        "--json",
        "--host",
        "asustor",
        "--tag",
        "service=mariadb",
        "--tag",
        "env=prod",
    ]
    assert (
        seen["env"]["RESTIC_REPOSITORY"] == "/repo"
        and seen["env"]["RESTIC_PASSWORD_FILE"] == "/run/secrets/pw"
    )
    assert (summary.snapshot_id, summary.bytes_processed, summary.bytes_added, summary.files) == (
        "abcd1234",
        5,
        9,
        1,
    )
