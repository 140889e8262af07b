"""Regenerate the recipe field reference in README.md from the pydantic model (`make readme`)."""

from __future__ import annotations

import sys
from pathlib import Path

from s2lpo_cli.recipe import field_reference

START, END = "<!-- recipe-reference:start -->", "<!-- recipe-reference:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{field_reference()}\n{END}{tail}"


if __name__ == "__main__":
    text = README.read_text()
    new = render(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else "README.md recipe reference is stale: run `make readme`")
    README.write_text(new)
