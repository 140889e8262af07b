"""Write the table of deliberate differences from Math-Verify into docs/grading-policy.md, from
s2lpo_cli/grading/deliberate_differences.yaml. `--check` only says whether the page is current (a test runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

from s2lpo_cli.grading.conformance import load_differences, render_markdown

START, END = "<!-- deliberate-differences:start -->", "<!-- deliberate-differences:end -->"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "grading-policy.md"


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render_markdown(load_differences())}\n{END}{tail}"


if __name__ == "__main__":
    text = PAGE.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else f"{PAGE}: the table of deliberate differences is stale: "
                 "run python scripts/grading_policy_page.py")
    PAGE.write_text(new, encoding="utf-8")
