"""The HTTP face of a sidecar's jobs: ``GET /jobs``, ``GET /jobs/runs/<id>`` and
``POST /jobs/<name>/run`` (bearer token). A run is answered 202 with its id at once; a run
already going answers 409 naming it; an unknown job 404."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from .http import json_error
from .jobs import JobBusy, Jobs, UnknownJob
from .webhook import require_bearer

Answer = tuple[Response, int]


def register(app: Flask, jobs: Jobs, token: str | None, service: str) -> None:
    """Add the job routes to ``app``. Without a token every POST is refused (401): jobs can
    then be run only by the schedule and the CLI."""

    @app.get("/jobs")
    def _jobs() -> Response:
        return jsonify(jobs.status())

    @app.get("/jobs/runs/<run_id>")
    def _run(run_id: str) -> Answer:
        run = jobs.get(run_id)
        if run is None:
            return json_error(404, f"no run {run_id!r} is known (only recent runs are kept)")
        return jsonify(run.as_dict()), 200

    @app.post("/jobs/<name>/run")
    @require_bearer(lambda: token or [], realm=f"napops-{service}")
    def _trigger(name: str) -> Answer:
        try:
            run = jobs.trigger(name, trigger="http")
        except UnknownJob as exc:
            return json_error(404, str(exc))
        except JobBusy as exc:
            return json_error(409, str(exc), run_id=exc.run_id)
        return jsonify({"status": "accepted", "run_id": run.run_id, "job": name}), 202
