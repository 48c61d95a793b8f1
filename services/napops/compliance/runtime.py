"""Workloads of the running containers of one Docker Engine.

One list call and one inspect per container (docker-py's list inspects each), plus one image
inspect per distinct image (for the image's own user): N + images + 1 API calls in all.
"""

from __future__ import annotations

from ..core.dockerhost import Engine
from .workload import Workload, from_inspect


def workloads(engine: Engine, label_filter: dict[str, str | None] | None = None) -> list[Workload]:
    """Every running container (matching ``label_filter``) as a Workload. Raises DockerError."""
    image_users: dict[str, str | None] = {}
    out = []
    for attrs in engine.inspect_running(label_filter):  # one list, then one inspect each
        image_id = attrs.get("Image", "")
        if image_id not in image_users:
            image_users[image_id] = _image_user(engine, image_id)
        out.append(from_inspect(attrs, image_users[image_id]))
    return out


def _image_user(engine: Engine, image_id: str) -> str | None:
    try:
        info = engine.api.inspect_image(image_id)
    except Exception:  # noqa: BLE001 - an image removed since: its user is unknown
        return None
    return str((info.get("Config") or {}).get("User") or "")
