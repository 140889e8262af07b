"""How many of Math-Verify's own test cases the grader judges as upstream does, through `s2lpo eval --responses`.

Prints the count and each case that differs (id, our verdict, what was extracted). The cases are turned into a
raw file as tests/grading/eval_path.py does. Run it against another version of the grader by putting that
version's s2lpo_cli first on PYTHONPATH, e.g. after `git archive e5cad3d s2lpo_cli | tar -x -C /tmp/old`:
    PYTHONPATH=/tmp/old python scripts/upstream_agreement.py ../shared/data/math_verify_cases.jsonl
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "grading"))
from eval_path import gold_answer, grade_via_eval, response_text  # noqa: E402

if __name__ == "__main__":
    cases = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()]
    with tempfile.TemporaryDirectory() as folder:
        graded = grade_via_eval(Path(folder), [(c["id"], response_text(c["pred"]), gold_answer(c["gold"])) for c in cases])
    differ = [c for c in cases if graded[c["id"]]["correct"] != bool(c["expected"])]
    print(f"{len(cases) - len(differ)} of {len(cases)} cases agree with upstream")
    for case in differ:
        ours = graded[case["id"]]
        print(f"{case['id']}: ours {'right' if ours['correct'] else 'wrong'} ({ours['status']}), extracted {ours['extracted']!r}")
