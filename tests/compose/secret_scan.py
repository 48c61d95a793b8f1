"""Find secret-looking values in files and in rendered Compose models.

Detectors, each returning findings with a reason (the value itself is never echoed in full):
- private keys (PEM headers);
- URLs carrying a password (`scheme://user:<password>@host`);
- known token formats (GitHub, GitLab, Slack, AWS access keys, JWTs);
- a password/secret/token-named setting with a literal value (config files and rendered
  environments only: in source code such names hold variables, not values);
- high-entropy strings (config files and rendered models).
Never flagged: `${VAR}` references, `*_FILE` / `*_file` settings and `/run/secrets/...` paths,
which is how this estate passes secrets.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Built from parts so this file does not match itself.
PEM_KEY = re.compile("-----BEGIN[A-Z ]*" + "PRIVATE KEY-----")
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:([^\s/@'\"]+)@[\w.-]+")
TOKEN_FORMATS = {
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
# `proxy_pass` (nginx, joxit registry UI NGINX_PROXY_PASS_URL) names an upstream, not a password
SECRET_NAME = re.compile(
    r"((?<!proxy_)pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key)", re.I
)
ASSIGNMENT = re.compile(r"^\s*-?\s*[\"']?([A-Za-z0-9_.-]+)[\"']?\s*[:=]\s*(.*?)\s*$")
CANDIDATE = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
SAMPLES = ("tests/fixtures/",)  # wire-format samples copied from real senders
CONFIG_SUFFIXES = {
    ".yml",
    ".yaml",
    ".env",
    ".conf",
    ".cnf",
    ".ini",
    ".cfg",
    ".toml",
    ".json",
    ".example",
    ".template",
    ".properties",
}


@dataclass(frozen=True)
class Finding:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def is_reference(value: str) -> bool:
    """A variable reference, a secrets-file path, a `<placeholder>` or nothing: not a secret."""
    value = value.strip().strip("\"'")
    return (
        not value
        or value.startswith(("$", "/run/secrets/", "[", "{", "*", "&", "<"))
        or value.lower() in ("null", "none", "true", "false", "~")
    )


def high_entropy(value: str) -> bool:
    """Random-looking: long, mixed letters and digits, near-random character spread."""
    for token in CANDIDATE.findall(value):
        if "${" in token or token.startswith("sha256"):
            continue
        has_mix = re.search(r"[a-z]", token) and re.search(r"[A-Z0-9]", token)
        if has_mix and re.search(r"\d", token) and entropy(token) >= 4.3:
            return True
    return False


def scan_text(where: str, text: str, config: bool) -> Iterator[Finding]:
    """Findings in one file's text; ``config`` enables the name and entropy detectors."""
    for lineno, line in enumerate(text.splitlines(), 1):
        at = f"{where}:{lineno}"
        if PEM_KEY.search(line):
            yield Finding(at, "private key")
        for match in URL_CREDENTIALS.finditer(line):
            if not is_reference(match.group(1)):
                yield Finding(at, "URL with a password")
        for name, pattern in TOKEN_FORMATS.items():
            if pattern.search(line):
                yield Finding(at, name)
        if not config or line.lstrip().startswith("#"):
            continue
        yield from scan_setting(at, line)


def scan_setting(at: str, line: str) -> Iterator[Finding]:
    match = ASSIGNMENT.match(line)
    if match:
        key, value = match.group(1), match.group(2).split(" #", 1)[0]
        if SECRET_NAME.search(key) and not re.search(r"_?file$", key, re.I):
            if not is_reference(value):
                yield Finding(at, f"literal value for secret-named setting {key}")
                return
    if high_entropy(line):
        yield Finding(at, "high-entropy string")


def scan_file(path: Path, rel: str) -> list[Finding]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []  # binary files: PEM keys and tokens are text; nothing to read here
    config = path.suffix in CONFIG_SUFFIXES or path.name.startswith(".env")
    if rel.startswith(SAMPLES):
        # Real senders' payloads (commit ids, image digests, advisory URLs) are random-looking
        # by nature and hold no configuration: only the key, token and URL detectors apply.
        config = False
    return list(scan_text(rel, text, config))


def scan_model(where: str, model: Any, path: str = "") -> Iterator[Finding]:
    """Findings in a rendered Compose model (every string, with its key path)."""
    if isinstance(model, dict):
        for key, value in model.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(value, str) and SECRET_NAME.search(str(key)):
                in_env = ".environment." in f".{sub}"
                if in_env and not re.search(r"_?file$", str(key), re.I) and not is_reference(value):
                    yield Finding(
                        f"{where} {sub}", "secret-named environment variable with a value"
                    )
                    continue
            yield from scan_model(where, value, sub)
    elif isinstance(model, list):
        for i, value in enumerate(model):
            yield from scan_model(where, value, f"{path}[{i}]")
    elif isinstance(model, str):
        yield from scan_text(f"{where} {path}", model, config=False)
        if high_entropy(model):
            yield Finding(f"{where} {path}", "high-entropy string")
