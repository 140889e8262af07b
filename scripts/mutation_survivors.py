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


def main(target: str) -> int:
    found = verdicts()
    counts = Counter(status for _, status, _ in found)
    lines = ["mutmut verdicts: " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())), ""]
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
