"""Grading rules v2 to v4 (docs/grading-policy.md): what the grader decides on top of math-verify's verdict.

- An ordered pair or tuple (or interval) is not a set: `(1,2)` against `\\{1,2\\}` is wrong either way round,
  although math-verify calls them equal; since v4 also when named (`x = (1,2)`, `x \\in (1,2)`).
- A gold answer with a percent sign accepts the number and its fraction: `10\\%` matches `10`, `10\\%`,
  `0.1` and `\\frac{1}{10}`; an answer that carries its own percent sign is read in percent (`0.1\\%` is wrong).
- A sequence written with an ellipsis (`1, 2, \\ldots, n`) is compared as text, spaces and the ellipsis
  command aside: math-verify reads such answers as a single number (Math-Verify issue #14).
- Text rewrites first, gold and answer alike (rewrite.py): `\\mathrm{e}`, digit groups, percent words.
Like equivalence.py, these run in grading worker processes (no signal timeouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sympy import Eq, FiniteSet, Interval, Tuple

from s2lpo_cli.grading.equivalence import equivalent, parse_boxed
from s2lpo_cli.grading.rewrite import normalize_text

_PERCENT = re.compile(r"\\?%")
_ELLIPSIS = re.compile(r"\\(?:ldots|cdots|dots)\b|\.\.\.|…")
_SIZING = re.compile(r"\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)\b")
_NAMED = re.compile(r"^[^=]*?(?:=|\\in(?![A-Za-z]))")  # `x =` or `x \in` before a value


@dataclass(frozen=True)
class Gold:
    """A gold answer as the rules read it: its text, its parse, and for a percent its fraction's parse."""

    text: str
    parsed: list
    fraction: list | None = None  # `10\%` also read as 10/100


def _has_percent(text: str) -> bool:
    return bool(_PERCENT.search(text))


def parse_gold(gold: str) -> Gold:
    """Parse a gold answer once (the worker caches it); an empty `parsed` means nothing could be read."""
    text = normalize_text(gold)
    parsed = parse_boxed(text)
    fraction = None
    if _has_percent(text):
        number = _PERCENT.sub("", text).strip()
        fraction = parse_boxed(f"\\frac{{{number}}}{{100}}") if number else None
    return Gold(text=text, parsed=parsed, fraction=fraction)


def sequence_text(text: str) -> str:
    """A sequence's text without spaces, LaTeX spacing and sizing commands, every ellipsis as `...`."""
    return re.sub(r"\s+|\\[,;!: ]|~", "", _ELLIPSIS.sub("...", _SIZING.sub("", text)))


def _written_as(text: str, parsed: list) -> str | None:
    """'ordered' for a pair, tuple or interval written in brackets, 'set' for a set written in braces."""
    if not parsed:
        return None
    shown = _SIZING.sub("", text).strip()
    value = parsed[0]
    if isinstance(value, Eq):  # math-verify reads `x = (1,2)` and `x \in (1,2)` as Eq(x, value)
        value = value.rhs
        shown = _NAMED.sub("", shown).strip()  # `^`: one match at most
    if isinstance(value, Tuple | Interval) and shown[:1] in "([":
        return "ordered"
    if isinstance(value, FiniteSet) and shown.startswith("\\{"):
        return "set"
    return None


def ordered_against_set(gold_text: str, gold: list, answer: str, pred: list) -> bool:
    return {_written_as(gold_text, gold), _written_as(answer, pred)} == {"ordered", "set"}


def is_sequence(text: str) -> bool:
    """Written with an ellipsis: compared as text (sequence_text), not parsed."""
    return bool(_ELLIPSIS.search(text))


def verdict(gold: Gold, answer: str) -> bool:
    """Whether an extracted answer matches the gold answer under the grading rules."""
    answer = normalize_text(answer)
    if is_sequence(gold.text) or is_sequence(answer):
        return sequence_text(gold.text) == sequence_text(answer)
    pred = parse_boxed(answer)
    readings = [gold.parsed]
    if gold.fraction and not _has_percent(answer):
        readings.append(gold.fraction)
    return any(
        equivalent(reading, pred) and not ordered_against_set(gold.text, reading, answer, pred)
        for reading in readings
    )
