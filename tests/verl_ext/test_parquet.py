"""The training parquet: verl's own RLHFDataset reads it; explorer draws follow the schedule without replacement."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.schedule import explorer_count, step_plan
from s2lpo_cli.verl_ext.command import AGENT_NAME, VerlPaths, verl_overrides
from s2lpo_cli.verl_ext.draws import layout, plan_draws
from s2lpo_cli.verl_ext.parquet import train_table, val_table, validate_verl_parquet, write_table

from .conftest import compose_verl, tiny_verl_recipe, train_rows

pytestmark = pytest.mark.verl


def test_layout_gives_each_step_the_embedded_trainers_batch(tiny_models, tmp_path):
    from s2lpo_cli.training.assembly import prompt_batch

    recipe = tiny_verl_recipe(tiny_models, tmp_path)  # 8 steps x 8 prompts over 12 rows
    rows = train_rows(tiny_models)
    laid = layout(rows, recipe)
    assert [step for step, _ in laid] == [s for s in range(1, 9) for _ in range(8)]
    for step in range(1, 9):
        in_step = [row.prompt_id for s, row in laid if s == step]
        assert len(set(in_step)) == 8  # no prompt twice in one step
        expected = [rows[j].prompt_id for j in prompt_batch(step - 1, len(rows), 8, recipe.optim.seed)]
        assert in_step == expected
    assert layout(rows, recipe) == laid  # seeded


def test_draws_follow_g_w_and_never_repeat_a_response(tiny_models, tmp_path):
    recipe = tiny_verl_recipe(tiny_models, tmp_path)
    rows = train_rows(tiny_models)
    planned = plan_draws(rows, recipe, {r.prompt_id: list(range(20)) for r in rows})
    for p in planned:
        assert len(p.explorer) == explorer_count(p.step, recipe.schedule.anneal_steps, recipe.rollout.group_size)
    used = Counter((p.row.prompt_id, i) for p in planned for i in p.explorer)
    assert used and max(used.values()) == 1


@pytest.mark.parametrize("mode", ["mixed", "split"])
def test_each_row_asks_verl_for_its_steps_planned_group(tiny_models, tmp_path, mode):
    recipe = tiny_verl_recipe(tiny_models, tmp_path, None, f"schedule.mode={mode}")
    planned = plan_draws(train_rows(tiny_models), recipe, {r.prompt_id: list(range(40)) for r in train_rows(tiny_models)})
    table = train_table(planned, recipe)
    plan = step_plan(recipe)
    sessions = table.column("__rollout_n__").to_pylist()
    assert sessions == [plan[p.step - 1].group_size for p in planned]
    if mode == "mixed":
        assert set(sessions) == {recipe.rollout.group_size}
    else:  # an explorer phase asks for G_w sessions, a target phase for G_s: both below G while annealing
        assert sessions[8:24] == [6] * 8 + [3] * 8 and max(sessions) == recipe.rollout.group_size
    assert "__rollout_n__" not in val_table(train_rows(tiny_models)[:2], recipe).schema.names


def _write(tiny_models, tmp_path):
    recipe = tiny_verl_recipe(tiny_models, tmp_path)
    rows = train_rows(tiny_models)
    planned = plan_draws(rows, recipe, {r.prompt_id: list(range(40)) for r in rows})
    paths = VerlPaths.for_run(tmp_path)
    write_table(train_table(planned, recipe), paths.train_parquet)
    write_table(val_table(rows[:4], recipe), paths.val_parquet)
    return recipe, planned, paths


def test_verl_rlhf_dataset_reads_the_parquet_with_the_tiny_tokenizer(tiny_models, tmp_path):
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    recipe, planned, paths = _write(tiny_models, tmp_path)
    assert validate_verl_parquet(paths.train_parquet, train=True) == len(planned)
    assert validate_verl_parquet(paths.val_parquet, train=False) == 4
    cfg = compose_verl(verl_overrides(recipe, paths))
    tokenizer = AutoTokenizer.from_pretrained(tiny_models / "target")
    cfg.data.filter_overlong_prompts = True  # makes RLHFDataset render every prompt with the chat template
    dataset = RLHFDataset(str(paths.train_parquet), tokenizer, cfg.data)
    assert len(dataset) == len(planned)  # no prompt was too long for data.max_prompt_length
    item = dataset[9]
    assert item["agent_name"] == AGENT_NAME
    assert item["raw_prompt"][-1]["role"] == "user" and planned[9].row.question in item["raw_prompt"][-1]["content"]
    assert item["index"] == 9 and item["extra_info"]["prompt_id"] == planned[9].row.prompt_id
    assert item["extra_info"]["step"] == planned[9].step and item["extra_info"]["explorer"] == list(planned[9].explorer)
    assert item["reward_model"] == {"style": "rule", "ground_truth": planned[9].row.answer}
    batch = collate_fn([dataset[i] for i in range(8)])
    assert list(batch["index"]) == list(range(8))
    val = RLHFDataset(str(paths.val_parquet), tokenizer, cfg.data)
    assert "agent_name" not in val[0]


def test_schema_validation_names_file_row_and_field(tiny_models, tmp_path):
    _, _, paths = _write(tiny_models, tmp_path)
    table = pq.read_table(paths.train_parquet)
    broken = table.set_column(table.schema.get_field_index("agent_name"), "agent_name",
                              pa.array(["tool_agent"] * len(table)))
    pq.write_table(broken, tmp_path / "bad.parquet")
    with pytest.raises(UserError, match=r"bad.parquet: row 1: agent_name"):
        validate_verl_parquet(tmp_path / "bad.parquet", train=True)
    pq.write_table(table.drop(["reward_model"]), tmp_path / "missing.parquet")
    with pytest.raises(UserError, match="column 'reward_model' is missing"):
        validate_verl_parquet(tmp_path / "missing.parquet", train=True)
    with pytest.raises(UserError, match="must not carry agent_name"):
        validate_verl_parquet(paths.train_parquet, train=False)
    column = table.schema.get_field_index("__rollout_n__")
    pq.write_table(table.set_column(column, "__rollout_n__", pa.array([0] * len(table), pa.int64())),
                   tmp_path / "zero.parquet")
    with pytest.raises(UserError, match=r"zero.parquet: row 1: __rollout_n__ must be the step's group size"):
        validate_verl_parquet(tmp_path / "zero.parquet", train=True)
