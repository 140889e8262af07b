"""metrics.jsonl: the contract's keys in order, lines a kill cut, and the cut back to a checkpoint."""

import json

import pytest

from s2lpo_cli.training import metrics
from s2lpo_cli.training.metrics import METRIC_KEYS


def record(step: int) -> dict:
    return {key: step for key in reversed(METRIC_KEYS)}  # every key, in the wrong order


def test_append_writes_every_key_in_contract_order(tmp_path):
    path = tmp_path / "metrics.jsonl"
    metrics.append(path, record(1))
    metrics.append(path, record(2))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [list(json.loads(line)) for line in lines] == [list(METRIC_KEYS)] * 2
    assert metrics.read(path) == [{k: 1 for k in METRIC_KEYS}, {k: 2 for k in METRIC_KEYS}]


@pytest.mark.parametrize("change", ["missing", "unknown"])
def test_a_record_off_the_contract_is_refused(tmp_path, change):
    bad = record(1)
    if change == "missing":
        del bad["kl"]
    else:
        bad["extra"] = 0
    with pytest.raises(KeyError, match=r"missing \{'kl'\}" if change == "missing" else r"unknown \{'extra'\}"):
        metrics.append(tmp_path / "metrics.jsonl", bad)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_read_ignores_a_line_cut_by_a_kill_and_keep_first_cuts_back(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert metrics.read(path) == []
    for step in (1, 2, 3):
        metrics.append(path, record(step))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"step": 4, "pha')  # the kill came mid-line
    assert [r["step"] for r in metrics.read(path)] == [1, 2, 3]
    metrics.keep_first(path, 2)
    assert path.read_text(encoding="utf-8").count("\n") == 2
    assert [r["step"] for r in metrics.read(path)] == [1, 2]
