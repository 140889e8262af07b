"""The explorer bank file: one row group per prompt, read one prompt at a time by each agent-loop worker."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.data.rows import Row
from s2lpo_cli.errors import UserError
from s2lpo_cli.verl_ext.draws import PlannedRow
from s2lpo_cli.verl_ext.explorer_bank import ExplorerBank
from s2lpo_cli.verl_ext.parquet import BANK_SCHEMA, bank_table, write_bank, write_table

pytestmark = pytest.mark.verl


def _bank(prompts: int = 5, per_prompt: int = 3) -> tuple[pa.Table, dict]:
    """A bank in shuffled order (as a launch may hand it over) and what each (prompt, index) holds."""
    rows = []
    for p in reversed(range(prompts)):
        for i in (2, 0, 1)[:per_prompt]:
            ids = [p * 100 + i * 10 + k for k in range(4 + i)]
            rows.append({"prompt_id": f"p{p}", "response_index": i, "response_token_ids": ids,
                         "response_logprobs": [-0.5 * (k + 1) for k in range(len(ids))], "finish_reason": "stop"})
    expected = {(r["prompt_id"], r["response_index"]): (r["response_token_ids"], r["response_logprobs"]) for r in rows}
    return pa.Table.from_pylist(rows, schema=BANK_SCHEMA), expected


def test_each_prompt_is_one_row_group_and_every_response_reads_back(tmp_path):
    table, expected = _bank()
    path = tmp_path / "bank.parquet"
    write_bank(table, path)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 5 and meta.num_rows == 15
    groups = [set(pq.ParquetFile(path).read_row_group(g, columns=["prompt_id"]).column(0).to_pylist())
              for g in range(5)]
    assert groups == [{f"p{p}"} for p in range(5)]  # sorted by prompt, one prompt per group
    assert not any(meta.row_group(g).column(c).is_stats_set for g in range(5) for c in range(5))  # no statistics
    bank = ExplorerBank(str(path))
    for (prompt_id, index), (ids, logprobs) in expected.items():
        assert bank.get(prompt_id, index) == (ids, logprobs)


def test_a_lookup_reads_only_its_prompts_row_group(tmp_path, monkeypatch):
    table, _ = _bank()
    path = tmp_path / "bank.parquet"
    write_bank(table, path)
    bank = ExplorerBank(str(path))
    read: list[list[int]] = []
    original = bank.file.read_row_groups
    monkeypatch.setattr(bank.file, "read_row_groups",
                        lambda groups, **kw: read.append((list(groups), kw["columns"])) or original(groups, **kw))
    bank.get("p3", 1)
    bank.get("p3", 2)  # the prompt's other sessions: served from memory
    assert read == [([3], ["prompt_id", "response_index", "response_token_ids", "response_logprobs"])]
    monkeypatch.setattr(ExplorerBank, "RECENT", 2)
    for prompt in ("p0", "p1", "p2"):
        bank.get(prompt, 0)
    assert list(bank._recent) == ["p1", "p2"]  # memory holds the last RECENT prompts only


def test_missing_responses_are_named(tmp_path):
    table, _ = _bank()
    write_bank(table, tmp_path / "bank.parquet")
    bank = ExplorerBank(str(tmp_path / "bank.parquet"))
    with pytest.raises(KeyError, match="no response 7 of prompt p1"):
        bank.get("p1", 7)
    with pytest.raises(KeyError, match=re.escape(f"explorer bank {tmp_path / 'bank.parquet'} has no response of prompt p9")):
        bank.get("p9", 0)


def test_any_row_group_layout_reads_the_same(tmp_path):
    table, expected = _bank()
    write_table(table, tmp_path / "whole.parquet")  # one unsorted row group
    bank = ExplorerBank(str(tmp_path / "whole.parquet"))
    assert all(bank.get(pid, i) == want for (pid, i), want in expected.items())


def test_open_shares_one_bank_per_path(tmp_path):
    table, _ = _bank(prompts=1)
    write_bank(table, tmp_path / "bank.parquet")
    assert ExplorerBank.open(str(tmp_path / "bank.parquet")) is ExplorerBank.open(str(tmp_path / "bank.parquet"))


def test_an_empty_bank_is_written(tmp_path):
    """A GRPO run (--baseline) replays no explorer response: its bank has no rows (this crashed in zip)."""
    path = tmp_path / "bank.parquet"
    write_bank(BANK_SCHEMA.empty_table(), path)
    assert pq.read_table(path).num_rows == 0


def test_opening_a_bank_reads_only_its_prompt_ids(tmp_path, monkeypatch):
    """Not the responses: each agent-loop worker opens the bank, and 4b_8b's is about 1 GB."""
    table, _ = _bank()
    write_bank(table, tmp_path / "bank.parquet")
    read: list = []
    original = pq.ParquetFile.read
    monkeypatch.setattr(pq.ParquetFile, "read", lambda self, columns=None, **kw: read.append(columns) or original(
        self, columns=columns, **kw))
    ExplorerBank(str(tmp_path / "bank.parquet"))
    assert read == [["prompt_id"]]


def _response(ids: list[int], logprobs: list[float]) -> SimpleNamespace:
    return SimpleNamespace(response_token_ids=ids, response_logprobs=logprobs, finish_reason="stop")


def test_bank_table_holds_each_planned_response_once_cut_to_the_budget():
    """Budget 3 tokens: a's response 0 (3 tokens) fits and keeps "stop"; a's response 1 (4 tokens) is cut to 3
    and becomes "length"; a's response 2 is planned for no row. a's response 0 is planned twice, stored once."""
    a, b = Row("a", "question a", "1"), Row("b", "question b", "2")
    responses = {a.prompt_id: {0: _response([1, 2, 3], [-0.5, -0.25, -0.125]),
                               1: _response([4, 5, 6, 7], [-1.0, -2.0, -3.0, -4.0]), 2: _response([8], [-1.0])},
                 b.prompt_id: {0: _response([9], [-0.5])}}
    planned = [PlannedRow(1, a, (1, 0)), PlannedRow(1, b, (0,)), PlannedRow(2, a, (0,))]
    table = bank_table(planned, responses, 3)
    assert table.schema == BANK_SCHEMA
    expected = [
        {"prompt_id": a.prompt_id, "response_index": 0, "response_token_ids": [1, 2, 3],
         "response_logprobs": [-0.5, -0.25, -0.125], "finish_reason": "stop"},
        {"prompt_id": a.prompt_id, "response_index": 1, "response_token_ids": [4, 5, 6],
         "response_logprobs": [-1.0, -2.0, -3.0], "finish_reason": "length"},
        {"prompt_id": b.prompt_id, "response_index": 0, "response_token_ids": [9], "response_logprobs": [-0.5],
         "finish_reason": "stop"},
    ]
    assert table.to_pylist() == sorted(expected, key=lambda r: (r["prompt_id"], r["response_index"]))


def test_bank_table_refuses_a_response_without_its_log_probs():
    a = Row("a", "question a", "1")
    responses = {a.prompt_id: {0: _response([1, 2], [-0.5])}}
    with pytest.raises(UserError, match=re.escape(
            f"explorer store: prompt {a.prompt_id} response 0 has 2 tokens but 1 log-probs; re-sample it with "
            "`s2lpo sample` (log-probs are needed for the off-policy terms)")):
        bank_table([PlannedRow(1, a, (0,))], responses, 3)
