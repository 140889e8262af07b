"""Text rewrites made before an answer is parsed, gold and model answer alike (docs/grading-policy.md, rules v3, v4).

- `\\mathrm{e}` is Euler's number `e` (Math-Verify issue #14: unparsed, it cut `1 - \\frac{1}{\\mathrm{e}}` short).
- Thousands grouped with a thin space, a space, a tie or a protected comma (`10\\,000`, `1 000`, `10~000`,
  `10{,}000`, `10,\\!000`) is one number: math-verify reads `10\\,000` as the product 10 * 000 = 0.
  Only groups of exactly three digits after a first group of one to three count; `12 34` stays as written.
- A percent word (`28 percent`, `28 pct`, `28 percentage`, `28\\text{ percent}`) is a percent sign.
- v4: `\\lbrace` and `\\rbrace` are the braces `\\{` and `\\}` (math-verify reads `\\lbrace 1, 2 \\rbrace` as 2).
"""

from __future__ import annotations

import re

_MATHRM_E = re.compile(r"\\mathrm\s*\{\s*e\s*\}")
_GROUP_SEPARATOR = r"(?:\\[,;: ]|\\thinspace|~| |\{,\}|,\\!)"
_GROUPED_NUMBER = re.compile(
    rf"(?<![\d.,^_])\d{{1,3}}(?:{_GROUP_SEPARATOR}\d{{3}})+(?!\d|{_GROUP_SEPARATOR}\d)"
)
_SEPARATOR = re.compile(_GROUP_SEPARATOR)
_GROUP_BEFORE = re.compile(rf"\d{_GROUP_SEPARATOR}$")  # `1 23 456`: 23 is not a first group
_BRACE_WORD = re.compile(r"\\([lr])brace(?![A-Za-z])")
_PERCENT_WORD = re.compile(
    r"\s*\\(?:text|textnormal|mathrm|mbox)\s*\{\s*(?:percentage|percent|pct)\s*\}|\s*\b(?:percentage|percent|pct)\b"
)


def _ungroup(match: re.Match) -> str:
    if _GROUP_BEFORE.search(match.string, 0, match.start()):
        return match.group(0)
    return _SEPARATOR.sub("", match.group(0))


def normalize_text(text: str) -> str:
    """The rewrites above, in order."""
    text = _MATHRM_E.sub("e", text)
    text = _BRACE_WORD.sub(lambda m: "\\{" if m.group(1) == "l" else "\\}", text)
    text = _GROUPED_NUMBER.sub(_ungroup, text)
    return _PERCENT_WORD.sub(r"\\%", text)
