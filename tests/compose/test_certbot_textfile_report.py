"""certbot's report (compose/config/edge/certbot-textfile.py) on good and bad input.

Run as the certbot loop runs it after a pass, on a certbot-shaped live directory in a
temporary folder; the output is read with prometheus_client's text parser, as strict as the
node exporter's textfile collector about the format.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from compose_render import COMPOSE
from prometheus_client.parser import text_string_to_metric_families
from tlscert import self_signed

REPORTER = COMPOSE / "config" / "edge" / "certbot-textfile.py"


def report(
    tmp: Path, result: str, textfile: Path | None = None
) -> subprocess.CompletedProcess[str]:
    textfile = textfile or tmp / "textfile" / "napops_certbot.prom"
    return subprocess.run(
        [sys.executable, str(REPORTER), "--result", result, "--live", str(tmp / "live"),
         "--textfile", str(textfile), "--interval", "43200"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def samples(path: Path) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out[s.name + "".join(f"/{v}" for v in s.labels.values())] = s.value
    return out


def lineage(tmp: Path, name: str) -> Path:
    live = tmp / "live" / name
    live.mkdir(parents=True)
    self_signed(live / "cert.pem", live / "privkey.pem", name, days=90)
    return live


def test_a_pass_is_reported_with_each_lineage(tmp_path: Path) -> None:
    (tmp_path / "textfile").mkdir()
    lineage(tmp_path, "a.example")
    broken = tmp_path / "live" / "b.example"
    broken.mkdir()
    (broken / "cert.pem").write_text("not a certificate\n")
    proc = report(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    assert "certificate skipped: b.example" in proc.stderr  # the others are still reported
    got = samples(tmp_path / "textfile" / "napops_certbot.prom")
    assert got["napops_certbot_last_run_success"] == 1
    assert got["napops_certbot_consecutive_failures"] == 0
    assert got["napops_certbot_interval_seconds"] == 43200
    assert (
        got["napops_certbot_last_success_timestamp_seconds"]
        == (got["napops_certbot_last_run_timestamp_seconds"])
    )
    life = (
        got["napops_certbot_certificate_not_after_timestamp_seconds/a.example"]
        - got["napops_certbot_certificate_not_before_timestamp_seconds/a.example"]
    )
    assert 89 * 86400 < life <= 91 * 86400
    assert not any("b.example" in k for k in got)
    assert [p.name for p in (tmp_path / "textfile").iterdir()] == ["napops_certbot.prom"]


def test_failures_count_on_from_the_previous_report(tmp_path: Path) -> None:
    (tmp_path / "textfile").mkdir()
    (tmp_path / "live").mkdir()
    assert report(tmp_path, "ok").returncode == 0
    first = samples(tmp_path / "textfile" / "napops_certbot.prom")
    for n in (1, 2):
        assert report(tmp_path, "failed").returncode == 0
        got = samples(tmp_path / "textfile" / "napops_certbot.prom")
        assert got["napops_certbot_consecutive_failures"] == n
        assert got["napops_certbot_last_run_success"] == 0
        assert (
            got["napops_certbot_last_success_timestamp_seconds"]
            == (first["napops_certbot_last_success_timestamp_seconds"])
        )
    assert report(tmp_path, "ok").returncode == 0
    assert (
        samples(tmp_path / "textfile" / "napops_certbot.prom")[
            "napops_certbot_consecutive_failures"
        ]
        == 0
    )


def test_a_broken_previous_report_starts_over(tmp_path: Path) -> None:
    (tmp_path / "textfile").mkdir()
    (tmp_path / "live").mkdir()
    (tmp_path / "textfile" / "napops_certbot.prom").write_text(
        "napops_certbot_consecutive_failures x\n"
    )
    assert report(tmp_path, "failed").returncode == 0
    got = samples(tmp_path / "textfile" / "napops_certbot.prom")
    assert got["napops_certbot_consecutive_failures"] == 1
    assert got["napops_certbot_last_success_timestamp_seconds"] == 0  # never, as far as known


def test_bad_destinations_are_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    proc = report(tmp_path, "ok", tmp_path / "napops_certbot.txt")
    assert proc.returncode == 2 and "reads only *.prom" in proc.stderr
    assert not (tmp_path / "napops_certbot.txt").exists()
    proc = report(tmp_path, "ok", tmp_path / "missing" / "napops_certbot.prom")
    assert proc.returncode == 1 and "cannot write" in proc.stderr
    proc = report(tmp_path, "maybe")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
