"""Written waivers: `# waiver: <rule>: <reason>` comments inside a service's block.

Compose drops comments when it renders, so waivers are read from the source files: the block
of a service is its key line under `services:` and every line indented deeper below it.
"""

from __future__ import annotations

import re
from pathlib import Path

WAIVER = re.compile(r"#\s*waiver:\s*([A-Za-z_][\w-]*)")


def service_blocks(text: str) -> dict[str, str]:
    """Service name -> its source text, for a Compose file's top-level `services:` mapping."""
    blocks: dict[str, list[str]] = {}
    in_services, current = False, None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if not stripped or (stripped.startswith("#") and current and indent > 2):
            if current:
                blocks[current].append(line)
            continue
        if indent == 0:
            in_services, current = stripped.startswith("services:"), None
            continue
        if in_services and indent == 2 and stripped.endswith(":") and not stripped.startswith("#"):
            current = stripped[:-1].strip("'\"")
            blocks[current] = []
        elif current:
            blocks[current].append(line)
    return {name: "\n".join(lines) for name, lines in blocks.items()}


def waived_rules(files: list[Path]) -> dict[str, set[str]]:
    """Service name -> the rules (first word after `waiver:`) waived for it in ``files``."""
    rules: dict[str, set[str]] = {}
    for path in files:
        if not path.is_file():
            continue
        for name, block in service_blocks(path.read_text(encoding="utf-8")).items():
            found = {m.group(1).lower() for m in WAIVER.finditer(block)}
            rules.setdefault(name, set()).update(found)
    return rules
