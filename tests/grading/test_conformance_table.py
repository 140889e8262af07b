"""The table of deliberate differences from Math-Verify (conformance.py): read, checked and rendered, by hand.

tests/grading/test_upstream_conformance.py holds the upstream cases to the shipped table through `s2lpo eval`;
these quick tests check the reader and the renderer on small tables written here.
"""

import re

import pytest

from s2lpo_cli.grading.conformance import Difference, DifferenceTable, load_differences, render_markdown
from s2lpo_cli.grading.version import RULES_VERSION

HEAD = "source: a test\ncases_sha256: abc\ntotal_cases: '10'\nrules_version: 3\ndifferences:\n"
ROWS = (
    '  - {case: c1, ours: wrong, upstream: right, rule: z-most, note: "a | b"}\n'
    '  - {case: 17, ours: right, upstream: wrong, rule: a-once, note: "`x`"}\n'
    "  - {case: c3, ours: wrong, upstream: right, rule: z-most, note: 0.5}\n"
)


def write(tmp_path, rows: str):
    path = tmp_path / "differences.yaml"
    path.write_text(HEAD + rows, encoding="utf-8")
    return path


def test_a_table_read_and_rendered_by_hand(tmp_path):
    table = load_differences(write(tmp_path, ROWS))
    assert table == DifferenceTable("a test", "abc", 10, 3, (
        Difference("c1", False, True, "z-most", "a | b"),
        Difference("17", True, False, "a-once", "`x`"),
        Difference("c3", False, True, "z-most", "0.5"),
    ))
    assert table.agreeing == 7
    assert render_markdown(table) == "\n".join([
        "Under grading rules version 3, **7 of 10** upstream cases get upstream's verdict; the other 3 are "
        "deliberate differences, each decided by a rule of this page:",
        "",
        "| rule | cases |",
        "|---|---|",
        "| [z-most](#z-most) | 2 |",  # the rule deciding most cases first
        "| [a-once](#a-once) | 1 |",
        "",
        "| case | ours | upstream | rule | as graded |",
        "|---|---|---|---|---|",
        "| c1 | wrong | right | [z-most](#z-most) | `a \\| b` |",  # a pipe escaped, a backtick made a quote
        "| 17 | right | wrong | [a-once](#a-once) | `'x'` |",
        "| c3 | wrong | right | [z-most](#z-most) | `0.5` |",
    ])


def test_the_shipped_table_is_read_from_the_package():
    table = load_differences()
    assert table.rules_version == RULES_VERSION and table.source.startswith("huggingface/Math-Verify")
    assert table.agreeing == table.total_cases - len(table.differences) > 0


@pytest.mark.parametrize(
    "row,message",
    [
        ("  - {case: c1, ours: wrong, upstream: right, rule: r}\n",
         "differences[3]: a row has exactly the keys case, ours, upstream, rule, note"),
        ("  - {case: c1, ours: wrong, upstream: right, rule: r, note: n, extra: 1}\n",
         "differences[3]: a row has exactly the keys case, ours, upstream, rule, note"),
        ("  - c1\n", "differences[3]: a row has exactly the keys case, ours, upstream, rule, note"),
        ("  - {case: c1, ours: maybe, upstream: right, rule: r, note: n}\n",
         "differences[3].ours: 'maybe' is not one of right, wrong"),
        ("  - {case: c1, ours: wrong, upstream: Right, rule: r, note: n}\n",
         "differences[3].upstream: 'Right' is not one of right, wrong"),
        ("  - {case: c1, ours: right, upstream: right, rule: r, note: n}\n",
         "differences[3]: ours and upstream agree (right): not a difference"),
    ],
)
def test_a_bad_row_is_an_error_naming_the_file_and_the_row(tmp_path, row, message):
    path = write(tmp_path, ROWS + row)  # the fourth row
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_differences(path)


def test_a_case_listed_twice_is_an_error(tmp_path):
    again = "  - {case: c3, ours: wrong, upstream: right, rule: r, note: n}\n"
    path = write(tmp_path, ROWS + again + again.replace("c3", "17"))
    with pytest.raises(ValueError, match=re.escape(f"{path}: cases listed twice: 17, c3")):
        load_differences(path)
