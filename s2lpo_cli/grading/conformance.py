"""The Math-Verify test cases on which the grader differs on purpose (deliberate_differences.yaml), read and
checked, and their table as docs/grading-policy.md shows it. tests/grading/test_upstream_conformance.py
holds every upstream case to this table; scripts/grading_policy_page.py writes the table into the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DIFFERENCES_FILE = Path(__file__).with_name("deliberate_differences.yaml")
VERDICTS = {"right": True, "wrong": False}
ROW_KEYS = ("case", "ours", "upstream", "rule", "note")


@dataclass(frozen=True)
class Difference:
    """One upstream case graded the other way, and the policy rule that decides it."""

    case: str
    ours: bool
    upstream: bool
    rule: str
    note: str


@dataclass(frozen=True)
class DifferenceTable:
    source: str
    cases_sha256: str
    total_cases: int
    rules_version: int
    differences: tuple[Difference, ...]

    @property
    def agreeing(self) -> int:
        return self.total_cases - len(self.differences)


def _row(raw: object, where: str) -> Difference:
    if not isinstance(raw, dict) or set(raw) != set(ROW_KEYS):
        raise ValueError(f"{where}: a row has exactly the keys {', '.join(ROW_KEYS)}")
    for key in ("ours", "upstream"):
        if raw[key] not in VERDICTS:
            raise ValueError(f"{where}.{key}: {raw[key]!r} is not one of right, wrong")
    if raw["ours"] == raw["upstream"]:
        raise ValueError(f"{where}: ours and upstream agree ({raw['ours']}): not a difference")
    return Difference(str(raw["case"]), VERDICTS[raw["ours"]], VERDICTS[raw["upstream"]], str(raw["rule"]),
                      str(raw["note"]))


def load_differences(path: Path = DIFFERENCES_FILE) -> DifferenceTable:
    """The table, checked: a bad row is an error naming the file and the row."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = tuple(_row(raw, f"{path}: differences[{i}]") for i, raw in enumerate(data["differences"]))
    repeated = sorted({row.case for row in rows if sum(r.case == row.case for r in rows) > 1})
    if repeated:
        raise ValueError(f"{path}: cases listed twice: {', '.join(repeated)}")
    return DifferenceTable(data["source"], data["cases_sha256"], int(data["total_cases"]), int(data["rules_version"]),
                           rows)


def _verdict(value: bool) -> str:
    return "right" if value else "wrong"


def render_markdown(table: DifferenceTable) -> str:
    """The page's section: the agreement count, the count per rule, and one row per case."""
    per_rule: dict[str, int] = {}
    for row in table.differences:
        per_rule[row.rule] = per_rule.get(row.rule, 0) + 1
    lines = [
        f"Under grading rules version {table.rules_version}, **{table.agreeing} of {table.total_cases}** upstream cases "
        f"get upstream's verdict; the other {len(table.differences)} are deliberate differences, each decided by a rule "
        "of this page:",
        "",
        "| rule | cases |",
        "|---|---|",
        *(f"| [{rule}](#{rule}) | {count} |" for rule, count in sorted(per_rule.items(), key=lambda kv: -kv[1])),
        "",
        "| case | ours | upstream | rule | as graded |",
        "|---|---|---|---|---|",
    ]
    for row in table.differences:
        note = row.note.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {row.case} | {_verdict(row.ours)} | {_verdict(row.upstream)} | [{row.rule}](#{row.rule}) "
                     f"| `{note}` |")
    return "\n".join(lines)
