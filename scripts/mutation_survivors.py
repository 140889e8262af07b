"""`make mutate`'s report: every mutant mutmut left alive, with its diff, and the count of each verdict.

Reads mutmut's results in mutants/ (run from the repository root after `mutmut run`) and writes them to
the file named on the command line. Survivors (tests passed on the mutant), timeouts and suspicious ones
get their diff; "no tests" mutants are only counted and listed (no quick test runs that function).
Written against mutmut 3.x (the `mutate` extra pins it).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

SHOWN = ("survived", "timeout", "suspicious")


def verdicts() -> list[tuple[str, str, Path]]:
    """(mutant name, status, source path) of every mutant mutmut generated."""
    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        out += [(name, status_by_exit_code[code], path) for name, code in data.exit_code_by_key.items()]
    return out


COLUMNS = ("killed", "timeout", "survived", "suspicious", "no tests", "not checked")


def module_table(found: list[tuple[str, str, Path]]) -> list[str]:
    """A markdown table of the verdicts per source file; the score is killed and timeouts over those run."""
    by_file: dict[Path, Counter] = {}
    for _, status, path in found:
        by_file.setdefault(path, Counter())[status] += 1
    lines = ["| module | mutants | " + " | ".join(COLUMNS) + " | score |", "|---" * (len(COLUMNS) + 3) + "|"]
    for path in sorted(by_file):
        counts = by_file[path]
        run = counts["killed"] + counts["timeout"] + counts["survived"] + counts["suspicious"]
        score = f"{100 * (counts['killed'] + counts['timeout']) / run:.1f} %" if run else "-"
        cells = [str(counts[column]) for column in COLUMNS]
        lines.append(f"| `{path.as_posix()}` | {counts.total()} | " + " | ".join(cells) + f" | {score} |")
    return lines


def main(target: str) -> int:
    found = verdicts()
    counts = Counter(status for _, status, _ in found)
    lines = ["mutmut verdicts: " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())), ""]
    lines += [*module_table(found), ""]
    for name, status, path in found:
        if status in SHOWN:
            lines += [f"## {name}: {status}", get_diff_for_mutant(name, path=path), ""]
    untested = [name for name, status, _ in found if status == "no tests"]
    if untested:
        lines += ["## no quick test runs these functions:", *untested, ""]
    Path(target).write_text("\n".join(lines), encoding="utf-8")
    print(f"{lines[0]}; survivors written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "mutation-survivors.txt"))
