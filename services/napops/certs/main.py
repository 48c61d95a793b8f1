"""Entry point of the certs sidecar (TLS certificate-expiry exporter).

Probe rounds run as the ``probe`` job (on ``schedule`` and once at start), each in a child
process (worker.py); /metrics serves the last round's series as formatted when the round
ended; /probe answers for ad-hoc targets, in this process.
"""

from __future__ import annotations

import logging
from typing import Any

from ..core import sidecar
from ..core.http import set_metrics_renderer
from ..core.jobs import JobBusy, RunContext
from . import app as probe_app
from .metrics import Exposition
from .probe import Cache, Prober
from .schema import SECTION
from .worker import ProcessRounds

__all__ = ["SECTION", "setup", "main", "probe_job"]

log = logging.getLogger(__name__)


def probe_job(rounds: ProcessRounds, cache: Cache) -> Any:
    def job(run: RunContext) -> dict[str, Any]:
        rnd = rounds.round(
            on_progress=lambda done, total: (
                run.progress(done, total, "targets") if done == total or done % 50 == 0 else None
            ),
            should_stop=run.should_stop,
        )
        cache.put(rnd)
        failed = [r.target for r in rnd.results if not r.success]
        invalid = [r.target for r in rnd.results for c in r.certs if c.verification != "ok"]
        for r in rnd.results:
            if not r.success:
                run.log.warning(
                    "probe of %s failed: %s %s",
                    r.target,
                    r.reason,
                    r.detail,
                    extra={"event": "probe_failed", "target": r.target, "reason": r.reason},
                )
        return {
            "targets": len(rnd.results),
            "probe_failures": len(failed),
            "invalid": len(invalid),
            "seconds": round(rnd.duration, 3),
            "probe_process_peak_rss_bytes": rounds.last_child_peak_rss_bytes,
        }

    return job


def setup(ctx: sidecar.Context) -> None:
    section = ctx.section or SECTION_DEFAULTS()
    prober = Prober(section)
    cache = Cache()
    # the napops_certs_* series are formatted once per round (metrics.Exposition), not
    # registered: a scrape formats only the sidecar's other series
    set_metrics_renderer(ctx.app, Exposition(ctx.registry, cache).render)
    ctx.add_job(
        "probe",
        probe_job(ProcessRounds(prober), cache),
        schedule=section["schedule"],
        description="probe every endpoint and file, refresh the cached results",
        audited=False,  # read-only, every minute: logged and counted, not in the trail
    )
    probe_app.register(ctx.app, prober, section["modules"])

    def first_round() -> None:
        try:
            ctx.jobs.trigger("probe", trigger="start")
        except JobBusy:
            pass

    ctx.on_start.append(first_round)


def SECTION_DEFAULTS() -> dict[str, Any]:  # noqa: N802 - reads like the constant it builds
    from ..core.schema import apply_defaults

    return dict(apply_defaults({}, SECTION))


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("certs", SECTION, setup, argv)
