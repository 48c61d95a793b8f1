"""A structural reader for Alloy configuration files. NOT a real Alloy parser.

Alloy cannot run here, so its configuration is checked by reading its structure: comments
and strings are tokenized properly (a brace inside a string does not count), brackets must
balance, and blocks (``name "label" { ... }``) with their attributes (``key = value``, one per
line) are collected. Expressions are kept as token lists and are not evaluated; a typo in a
component's argument name or a wrong type is only caught by a real ``alloy fmt``/``alloy run``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<newline>\n)
  | (?P<space>[ \t\r]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<number>[0-9][0-9_.eE+-]*)
  | (?P<punct>==|!=|<=|>=|&&|\|\||[{}\[\]()=,.:+\-*/%<>!?^])
    """,
    re.S | re.X,
)
_PAIRS = {"}": "{", "]": "[", ")": "("}


class AlloySyntaxError(ValueError):
    """The text is not even structurally valid (unbalanced, unterminated, stray tokens)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int

    @property
    def value(self) -> str:
        """The text of a string literal, unescaped; other tokens as written."""
        if self.kind == "string":
            return str(json.loads(self.text))
        if self.kind == "raw":
            return self.text[1:-1]
        return self.text


@dataclass
class Block:
    name: str
    label: str | None
    line: int
    attributes: dict[str, list[Token]] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def children(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]

    def strings(self, attribute: str) -> list[str]:
        """String literals in one attribute's value."""
        return [t.value for t in self.attributes.get(attribute, []) if t.kind in ("string", "raw")]

    def keys(self, attribute: str) -> list[str]:
        """Keys of an object-literal attribute (``{ a = "x", b = "" }`` -> ["a", "b"])."""
        tokens = self.attributes.get(attribute, [])
        return [t.text for i, t in enumerate(tokens[:-1]) if tokens[i + 1].text == "="]

    def walk(self) -> list[Block]:
        return [self, *[d for b in self.blocks for d in b.walk()]]


def tokenize(text: str) -> list[Token]:
    """Tokens without comments and spaces; raises AlloySyntaxError on unbalanced brackets."""
    tokens: list[Token] = []
    stack: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise AlloySyntaxError(f"line {line}: unexpected {text[pos : pos + 20]!r}")
        kind, chunk = match.lastgroup or "", match.group()
        token = Token(kind, chunk, line)
        if kind not in ("comment", "space"):
            tokens.append(token)
        if kind == "punct" and chunk in "{[(":
            stack.append(token)
        elif kind == "punct" and chunk in _PAIRS:
            if not stack or stack[-1].text != _PAIRS[chunk]:
                raise AlloySyntaxError(f"line {line}: unbalanced {chunk!r}")
            stack.pop()
        line += chunk.count("\n")
        pos = match.end()
    if stack:
        raise AlloySyntaxError(f"line {stack[-1].line}: {stack[-1].text!r} never closed")
    return tokens


def parse(text: str) -> Block:
    """The file as a root block holding the top-level components."""
    tokens = tokenize(text)
    root, end = _body(tokens, 0, Block("<root>", None, 0), top=True)
    assert end == len(tokens)
    return root


def _body(tokens: list[Token], i: int, block: Block, top: bool) -> tuple[Block, int]:
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "newline":
            i += 1
        elif tok.text == "}" and not top:
            return block, i + 1
        elif tok.kind == "ident" and i + 1 < len(tokens) and tokens[i + 1].text == "=":
            value, i = _value(tokens, i + 2)
            if tok.text in block.attributes:
                raise AlloySyntaxError(f"line {tok.line}: {tok.text} set twice")
            block.attributes[tok.text] = value
        elif tok.kind == "ident":
            label = None
            j = i + 1
            if tokens[j].kind == "string":
                label, j = tokens[j].value, j + 1
            if tokens[j].text != "{":
                raise AlloySyntaxError(f"line {tok.line}: expected '{{' after {tok.text}")
            child, i = _body(tokens, j + 1, Block(tok.text, label, tok.line), top=False)
            block.blocks.append(child)
        else:
            raise AlloySyntaxError(f"line {tok.line}: unexpected {tok.text!r}")
    if not top:
        raise AlloySyntaxError(f"line {block.line}: block {block.name} never closed")
    return block, i


def _value(tokens: list[Token], i: int) -> tuple[list[Token], int]:
    """Tokens of one expression: up to the newline at bracket depth 0."""
    depth, out = 0, []
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "newline" and depth == 0:
            break
        if tok.text in "{[(" and tok.kind == "punct":
            depth += 1
        elif tok.text in "}])" and tok.kind == "punct":
            if depth == 0:
                break
            depth -= 1
        if tok.kind != "newline":
            out.append(tok)
        i += 1
    if not out:
        raise AlloySyntaxError(f"line {tokens[i - 1].line}: attribute without a value")
    return out, i


def references(root: Block) -> list[Token]:
    """Identifiers that refer to another component's export (``a.b.label.export``)."""
    return [
        t
        for b in root.walk()
        for value in b.attributes.values()
        for t in value
        if t.kind == "ident" and t.text.count(".") >= 2
    ]
