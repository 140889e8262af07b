"""The explorer bank file: one row group per prompt, read one prompt at a time by each agent-loop worker."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.verl_ext.explorer_bank import ExplorerBank
from s2lpo_cli.verl_ext.parquet import BANK_SCHEMA, write_bank, write_table

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
    monkeypatch.setattr(bank.file, "read_row_groups", lambda groups, **kw: read.append(list(groups)) or original(groups, **kw))
    bank.get("p3", 1)
    bank.get("p3", 2)  # the prompt's other sessions: served from memory
    assert read == [[3]]
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
    with pytest.raises(KeyError, match="has no response of prompt p9"):
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
