"""verl's file-logger lines of every attempt of a run, read in order (verl_ext/logs.py)."""

import json

import pytest

from s2lpo_cli.verl_ext.command import VerlPaths
from s2lpo_cli.verl_ext.logs import log_entries

pytestmark = pytest.mark.verl


def test_attempts_in_order_and_unreadable_lines_skipped(tmp_path):
    """An attempt's log moved aside and no current log (the resumed run died before logging); a line that is not
    JSON does not end the reading of its log; a line without a step is not an entry."""
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    (paths.root / "metrics.20261207100000.jsonl").write_text('{"step": 1}\n{"step": 2, "da\n{"step": 3}\n')
    (paths.root / "metrics.20261207090000.jsonl").write_text('{"step": 0}\n\n{"data": {}}\n')
    assert [e["step"] for e in log_entries(paths)] == [0, 1, 3]
    paths.metrics.write_text(json.dumps({"step": 4}) + "\n")
    assert [e["step"] for e in log_entries(paths)] == [0, 1, 3, 4]
