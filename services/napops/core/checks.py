"""Readiness checks shared by sidecars."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .http import ReadyCheck


def writable_dir(path: str | os.PathLike[str]) -> ReadyCheck:
    """Ready when ``path`` is a directory this process can create files in."""

    def check() -> None:
        directory = Path(path)
        if not directory.is_dir():
            raise RuntimeError(f"{directory} is not a directory")
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-"):
            pass

    return check
