"""The relay's e2e tests: real Prometheus, Alertmanager, relay, SMTP server, chat receiver."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "integration" / "relay"))
