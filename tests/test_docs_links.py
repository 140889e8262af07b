"""The README stays short and its links, and the docs pages' links, lead somewhere (`make docs` builds
the site with --strict as well; this runs in `make test` without MkDocs)."""

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PAGES = sorted((REPO / "docs").rglob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs uses for anchors): `## The schedule` -> `the-schedule`."""
    text = unicodedata.normalize("NFKD", heading.replace("`", "")).encode("ascii", "ignore").decode()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+?)\s*$", text, flags=re.M)}
    return headings | set(re.findall(r'<a id="([^"]+)"></a>', text))  # explicit anchors (grading-policy.md)


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # not links in code blocks
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    return broken


def test_the_readme_is_at_most_12_kb():
    assert len(README.read_bytes()) <= 12_000, "README.md grew past 12 KB: move the detail into docs/"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_readme_links_into_the_docs():
    targets = {t.partition("#")[0] for t in relative_links(README)}
    assert {"docs/getting-started.md", "docs/concepts.md", "docs/troubleshooting.md", "docs/status.md",
            "docs/reference/cli.md", "docs/reference/recipe.md"} <= targets


def test_a_broken_link_and_a_missing_anchor_are_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## The schedule\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#the-schedule) [gone](c.md) [no anchor](a.md#schedule) [web](https://x.org/y)\n"
                    "```\n[in code](nowhere.md)\n```\n")
    assert [b.split(":")[0] for b in broken_links(page)] == ["c.md", "a.md#schedule"]


def test_slugs_are_the_ones_mkdocs_makes():
    assert slug("`s2lpo recipe list`") == "s2lpo-recipe-list"
    assert slug("Mixed vs split: what a group holds") == "mixed-vs-split-what-a-group-holds"
    assert slug("Pass@k, accuracy") == "passk-accuracy"
