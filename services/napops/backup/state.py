"""Results that outlive a process: the last backup of every item, the last verification, the
last drill, the repository's size and free space. Kept in one JSON file in the state
directory (written atomically), so a CLI run and the sidecar's own runs feed the same
metrics, and a restarted sidecar still exports when the last success was."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any


class State:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        data.setdefault("items", {})
        data.setdefault("drills", {})
        data.setdefault("repository", {})
        data.setdefault("verify", {})
        return data if isinstance(data, dict) else {}

    def update(self, fn: Any) -> dict[str, Any]:
        """Apply ``fn(data)`` to the stored state and write it back atomically."""
        with self._lock:
            data = self.load()
            fn(data)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            return data

    def item(self, key: str, result: dict[str, Any]) -> None:
        def apply(data: dict[str, Any]) -> None:
            entry = data["items"].setdefault(key, {})
            entry.update({k: v for k, v in result.items() if k != "last_success"})
            entry["runs_" + ("success" if result["ok"] else "failed")] = (
                entry.get("runs_" + ("success" if result["ok"] else "failed"), 0) + 1
            )
            if result["ok"]:
                entry["last_success"] = result["finished"]

        self.update(apply)

    def drill(self, key: str, result: dict[str, Any]) -> None:
        self.update(lambda data: data["drills"].__setitem__(key, result))

    def repository(self, facts: dict[str, Any]) -> None:
        self.update(lambda data: data["repository"].update(facts))

    def verify(self, result: dict[str, Any]) -> None:
        self.update(lambda data: data["verify"].update(result))
