"""The grader's fast path: verdicts on plain integers without math-verify.

Most answers of integer-answer tasks (the synthetic task, GSM8K-style data) are a plain integer in
canonical form: digits without leading zeros, an optional minus sign, no `-0`. Two such strings are
equal numbers exactly when they are the same string, and math-verify's verdict (with the exact-number
rule of equivalence.py) is then True when they are equal and False when not (tested on every answer of
the synthetic task). Anything else (`007`, `-0`, `+3`, `1,000`, `10\\%`, `x=3`, `\\frac{6}{2}`, `3.0`) goes
to math-verify as before.
"""

from __future__ import annotations

import re

_CANONICAL_INTEGER = re.compile(r"-?[1-9][0-9]*|0")


def integer_verdict(answer: str, gold: str) -> bool | None:
    """math-verify's verdict when both answers are canonical integers (surrounding spaces aside), else None."""
    answer, gold = answer.strip(), gold.strip()
    if _CANONICAL_INTEGER.fullmatch(answer) and _CANONICAL_INTEGER.fullmatch(gold):
        return answer == gold
    return None
