"""The version of the grading rules (docs/grading-policy.md), written into every result so that results graded under
different rules are never compared silently. Raise it whenever a rule changes a verdict.

1: last box, math-verify with the exact-number rule, percent sign dropped.
2: a tuple is not a set; a percent gold also accepts its fraction (10\\% = 0.1); the multiple-choice
   grader; the Math-Verify false verdicts adopted in the policy.
3: digit groups (`10\\,000`, `1 000`) are one number; percent words are a percent sign; boxes joined by
   commas or "and" are one answer (a list); a letter marked `B.`, `B)` or `(B)` picks its choice.
4: `\\lbrace`/`\\rbrace` are braces; a named tuple or set (`x = (1,2)`, `x \\in \\{1,2\\}`) is held to the
   tuple-is-not-a-set rule; a choice wrapped and then ended by a period (`**B**.`, `"B".`, `$B$.`) is read;
   choice texts are compared case-folded (`STRASSE` is `Straße`).
"""

RULES_VERSION = 4


def rules_name(version: int | None) -> str:
    """A version as messages name it: `rules v3`, or `unrecorded rules` for results written before versions."""
    return "unrecorded rules" if version is None else f"rules v{version}"
