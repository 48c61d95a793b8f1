"""The metric names a PromQL expression reads.

promtool proves an expression parses but cannot list what it reads, and no PromQL parser is
packaged for Python, so this is a small tokenizer over already-valid PromQL: strings, label
matchers and ranges are skipped, label lists after by/without/on/ignoring/group_* are
skipped, and an identifier that is not a keyword and is not called like a function is a
metric name. ``{__name__="x"}`` selectors are read too.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NAME_MATCHER = re.compile(r"__name__\s*=\s*\"([^\"]+)\"")
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9.][0-9A-Za-z.]*([eE][+-]?[0-9]+)?)")

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LIST_KEYWORDS | {"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects (the series names, e.g. ``foo_bucket``)."""
    names: set[str] = set()
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            i = _line_end(expr, i)
        elif ch in "\"'`":
            i = _string_end(expr, i)
        elif ch == "{":
            end = _closing(expr, i, "{", "}")
            names.update(_NAME_MATCHER.findall(expr[i:end]))
            i = end
        elif ch == "[":
            i = _closing(expr, i, "[", "]")
        elif ch.isdigit() or (ch == "." and i + 1 < n and expr[i + 1].isdigit()):
            match = _NUMBER.match(expr, i)
            i = match.end() if match else i + 1
        elif (match := _IDENT.match(expr, i)) is not None:
            word, i = match.group(), match.end()
            nxt = _skip_space(expr, i)
            if word.lower() in LABEL_LIST_KEYWORDS and nxt < n and expr[nxt] == "(":
                i = _closing(expr, nxt, "(", ")")
            elif word.lower() in KEYWORDS:
                continue
            elif nxt < n and expr[nxt] == "(":
                continue  # a function call
            elif word in AGGREGATIONS and _next_word(expr, nxt) in ("by", "without"):
                continue  # ``sum by (x) (...)``
            else:
                names.add(word)
        else:
            i += 1
    return names


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _next_word(text: str, i: int) -> str:
    match = _IDENT.match(text, i)
    return match.group().lower() if match else ""


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end + 1


def _string_end(text: str, i: int) -> int:
    """Index after the string literal starting at ``i`` (backslash escapes honoured)."""
    quote, i = text[i], i + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


def _closing(text: str, i: int, open_: str, close: str) -> int:
    """Index after the bracket that closes the one at ``i`` (strings may contain brackets)."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'`":
            i = _string_end(text, i)
            continue
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i
