import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.data.rollout_store import COLUMNS, RolloutStore, StoredResponse, schema
from s2lpo_cli.errors import UserError

IDENTITY = {
    "explorer": "tiny_models/explorer",
    "tokenizer_hash": "abc",
    "sampling": {"temperature": 1.0, "top_p": 1.0},
    "seed": 0,
    "dataset": "synthetic",
    "prompts_hash": "h",
    "n_prompts": 3,
    "n_per_prompt": 2,
    "prompt": {"instruction": "Box it.", "system": None, "enable_thinking": False},
    "shard_prompts": 2,
}


def _row(pid: str, index: int, reward: float = 1.0, extracted: str | None = "7") -> dict:
    return {
        "prompt_id": pid,
        "question": f"q{pid}",
        "ground_truth": "7",
        "data_source": "synthetic",
        "prompt_token_ids": [1, 2, 3],
        "response_index": index,
        "response_text": f"r{index}",
        "response_token_ids": [5, 6],
        "response_logprobs": [-0.5, -0.25],
        "finish_reason": "stop",
        "reward": reward,
        "extracted_answer": extracted,
        "grade_status": "ok" if extracted else "no_answer",
    }


def test_round_trip_schema_and_grouping(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", IDENTITY)
    store.write_shard(1, [_row("c", 1, 0.0, None), _row("c", 0)])
    store.write_shard(0, [_row("a", 0), _row("a", 1), _row("b", 0), _row("b", 1, 0.0)])
    store.finish({"responses": 6})
    reopened = RolloutStore.open(tmp_path / "r")
    assert (
        reopened.complete
        and reopened.tokenizer_hash == "abc"
        and reopened.manifest["counts"] == {"responses": 6}
    )
    groups = reopened.responses_by_prompt()
    assert list(groups) == ["a", "b", "c"]
    assert [r.response_index for r in groups["c"]] == [0, 1]
    assert groups["c"][1] == StoredResponse(**{**_row("c", 1, 0.0, None)})
    table = pq.read_table(tmp_path / "r" / "shards")
    assert tuple(table.schema.names) == COLUMNS
    assert table.schema.field("prompt_token_ids").type == pa.list_(pa.int32())
    assert table.schema.field("response_logprobs").type == pa.list_(pa.float32())
    assert table.schema.field("reward").type == pa.float32()
    assert table.num_rows == 6


def test_readable_by_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    store = RolloutStore.prepare(tmp_path / "r", IDENTITY)
    store.write_shard(0, [_row("a", 0), _row("a", 1)])
    ds = datasets.load_dataset(
        "parquet",
        data_files=str(tmp_path / "r" / "shards" / "*.parquet"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert ds.num_rows == 2 and ds[1]["response_index"] == 1 and ds[0]["response_token_ids"] == [5, 6]


def test_same_identity_resumes_other_identity_is_refused(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", IDENTITY)
    store.write_shard(0, [_row("a", 0)])
    again = RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "created": "later", "versions": {"torch": "x"}})
    assert again.existing_shards() == [0]
    other = {**IDENTITY, "explorer": "other/explorer", "sampling": {"temperature": 0.6, "top_p": 1.0}}
    with pytest.raises(
        UserError,
        match=r"explorer: stored 'tiny_models/explorer', now 'other/explorer'; sampling: stored \{'temperature': "
        r"1\.0, 'top_p': 1\.0\}, now \{'temperature': 0\.6, 'top_p': 1\.0\}\); choose another --output, or pass "
        r"--force to delete them and start over$",
    ):
        RolloutStore.prepare(tmp_path / "r", other)
    with pytest.raises(UserError, match="tokenizer_hash"):
        RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "tokenizer_hash": "zzz"})
    forced = RolloutStore.prepare(tmp_path / "r", other, force=True)
    assert forced.existing_shards() == []
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["explorer"] == "other/explorer"


def test_a_folder_that_is_not_a_store_is_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a rollout store"):
        RolloutStore.prepare(tmp_path, IDENTITY, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(UserError, match="no manifest.json"):
        RolloutStore.open(tmp_path)


def test_interrupted_shard_write_leaves_no_shard(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", IDENTITY)
    bad = _row("a", 0)
    bad["response_token_ids"] = ["not a token"]
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        store.write_shard(0, [_row("a", 1), bad])
    assert store.existing_shards() == []
    assert list((tmp_path / "r" / "shards").iterdir()) == []
    # What kill -9 during a write leaves: a temporary file, which is not a shard and is removed on resume.
    (tmp_path / "r" / "shards" / ".part-00000.parquet.x1.tmp").write_bytes(b"PAR1 half")
    assert store.existing_shards() == []
    store.remove_partial_files()
    assert list((tmp_path / "r" / "shards").iterdir()) == []


def test_a_new_store_is_empty_and_marked_incomplete(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", IDENTITY)
    written = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert written == {**IDENTITY, "format": 1, "complete": False, "counts": None}
    assert not RolloutStore.open(tmp_path / "r").complete
    assert store.responses() == [] and store.responses_by_prompt() == {}
    assert store.table().schema == schema() and store.table().num_rows == 0


def test_a_manifest_that_is_not_json_or_of_another_format_is_refused(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{")
    with pytest.raises(UserError, match=r"manifest\.json: not valid JSON \(Expecting property name"):
        RolloutStore.open(tmp_path)
    manifest.write_text('{"format": 2}')
    with pytest.raises(UserError, match=r"manifest\.json: rollout store format 2, expected 1$"):
        RolloutStore.open(tmp_path)


def test_force_starts_over_when_the_shards_folder_is_gone(tmp_path):
    RolloutStore.prepare(tmp_path / "r", IDENTITY).write_shard(0, [_row("a", 0)])
    (tmp_path / "r" / "shards" / "part-00000.parquet").unlink()
    (tmp_path / "r" / "shards").rmdir()
    forced = RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "seed": 1}, force=True)
    assert forced.existing_shards() == [] and forced.manifest["seed"] == 1


def test_force_stops_when_the_old_shards_cannot_be_deleted(tmp_path):
    """A shards folder linked elsewhere cannot be removed by rmtree: its shards, of the old setup, must
    not be resumed under the new setup's manifest."""
    RolloutStore.prepare(tmp_path / "r", IDENTITY).write_shard(0, [_row("a", 0)])
    (tmp_path / "r" / "shards").rename(tmp_path / "elsewhere")
    (tmp_path / "r" / "shards").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(
        UserError,
        match=r"r/shards: cannot delete the rollouts of the old setup \(.*symbolic link\); delete the folder "
        "by hand or choose another --output$",
    ):
        RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "seed": 1}, force=True)
    kept = RolloutStore.open(tmp_path / "r")
    assert kept.manifest["seed"] == 0 and kept.existing_shards() == [0]


class _Interrupted(Exception):
    pass


def _grade_by_text(pairs, fail_after=None):
    """A grader by hand: right when the response text is `r<gold>`; raises after `fail_after` calls."""
    from s2lpo_cli.grading.grader import Grade

    _grade_by_text.calls += 1
    if fail_after is not None and _grade_by_text.calls > fail_after:
        raise _Interrupted
    return [Grade(text == f"r{gold}", text[1:], "ok") for text, gold in pairs]


def test_regrade_rewrites_every_shards_verdicts_then_the_rules_version(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "grading_rules_version": 3})
    store.write_shard(0, [_row("a", 0), _row("a", 7, 0.0, None)])  # r0 marked right, r7 wrong: both stale
    store.write_shard(1, [_row("b", 7, 0.0, None)])
    _grade_by_text.calls = 0
    with pytest.raises(_Interrupted):  # killed after the first shard
        store.regrade(lambda pairs: _grade_by_text(pairs, fail_after=1), 4)
    reopened = RolloutStore.open(tmp_path / "r")
    assert reopened.manifest["grading_rules_version"] == 3  # not yet: the next run grades every shard again
    assert [r["reward"] for r in reopened.table().to_pylist()] == [0.0, 1.0, 0.0]

    _grade_by_text.calls = 0
    assert reopened.regrade(_grade_by_text, 4) == 2
    rows = RolloutStore.open(tmp_path / "r").table().to_pylist()
    assert [(r["reward"], r["extracted_answer"], r["grade_status"]) for r in rows] == [
        (0.0, "0", "ok"), (1.0, "7", "ok"), (1.0, "7", "ok")]
    assert rows[0] == {**_row("a", 0), "reward": 0.0, "extracted_answer": "0"}  # nothing else changed
    assert RolloutStore.open(tmp_path / "r").manifest["grading_rules_version"] == 4


def test_regrade_with_a_verdict_missing_stops_and_loses_no_row(tmp_path):
    store = RolloutStore.prepare(tmp_path / "r", {**IDENTITY, "grading_rules_version": 3})
    store.write_shard(0, [_row("a", 0), _row("a", 7, 0.0, None)])
    _grade_by_text.calls = 0
    with pytest.raises(ValueError, match="zip"):
        store.regrade(lambda pairs: _grade_by_text(pairs)[:-1], 4)  # a grader that drops one verdict
    assert store.table().to_pylist() == [_row("a", 0), _row("a", 7, 0.0, None)]
