"""Deploy outcomes as notices through the relay (its Alertmanager webhook, payload version 4).

A failed or rolled-back deployment is sent as a firing alert ``NapopsDeployFailed`` /
``NapopsDeployRolledBack`` (severity warning); a success as a resolved ``NapopsDeploy``
(severity info), so every channel that shows alerts shows deploys without a relay change.
The group key is the deployment id: the relay's de-duplication keeps one notice per deploy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from .state import Deployment

_NAMES = {
    "succeeded": ("NapopsDeploy", "resolved", "info"),
    "failed": ("NapopsDeployFailed", "firing", "warning"),
    "rolled_back": ("NapopsDeployRolledBack", "firing", "warning"),
    "refused": ("NapopsDeployRefused", "firing", "info"),
}


log = logging.getLogger(__name__)


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, UTC).isoformat().replace("+00:00", "Z")


def payload(dep: Deployment) -> dict[str, Any]:
    """The Alertmanager webhook body announcing ``dep``'s outcome."""
    name, status, severity = _NAMES.get(dep.state, _NAMES["failed"])
    labels = {
        "alertname": name,
        "service": dep.service,
        "environment": dep.environment,
        "severity": severity,
        "source": "napops-deploy",
    }
    summary = f"{dep.service} in {dep.environment}: {dep.image} {dep.state.replace('_', ' ')}"
    annotations = {
        "summary": summary,
        "description": dep.reason or f"deployment {dep.id} ({dep.trigger})",
        "deployment": dep.id,
        "image": dep.image,
        "previous_image": dep.previous_image or "",
    }
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(dep.started or dep.created),
        "endsAt": _iso(dep.finished) if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": dep.id,
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "napops-deploy",
        "groupKey": f"napops-deploy:{dep.id}",
        "alerts": [alert],
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "truncatedAlerts": 0,
    }


def relay_notifier(url: str, token: str, timeout: float = 5) -> Callable[[Deployment], None]:
    """A notifier posting to the relay at ``url``; raises on a non-2xx answer."""

    def send(dep: Deployment) -> None:
        resp = requests.post(
            url.rstrip("/") + "/alertmanager",
            json=payload(dep),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        resp.raise_for_status()

    return send


def scan_requester(
    url: str, token: str, job: str = "vulnerabilities", timeout: float = 5
) -> Callable[[Deployment], None]:
    """After a deploy that changed an image, ask the compliance sidecar to scan (its job API:
    POST /jobs/<job>/run; the job queues, so a scan already running is not an error). No
    database is shared between the sidecars: this request is the whole interface."""

    def send(dep: Deployment) -> None:
        if dep.state != "succeeded" or dep.image == dep.previous_image:
            return
        resp = requests.post(
            f"{url.rstrip('/')}/jobs/{job}/run",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        if resp.status_code not in (202, 409):
            resp.raise_for_status()

    return send


def each(*notifiers: Callable[[Deployment], None]) -> Callable[[Deployment], None]:
    """One notifier calling every one of ``notifiers``; a failing one does not stop the others
    (its error is logged here, the last one raised to the caller)."""

    def send(dep: Deployment) -> None:
        failed: Exception | None = None
        for notifier in notifiers:
            try:
                notifier(dep)
            except Exception as exc:  # noqa: BLE001 - each notifier gets its chance
                log.warning("a notifier of %s failed: %s", dep.id, exc)
                failed = exc
        if failed is not None:
            raise failed

    return send
