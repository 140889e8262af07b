"""The training parquet: verl's own RLHFDataset reads it; explorer draws follow the schedule without replacement."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import load_recipe
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


def _hand_recipe(train: str):
    return load_recipe("4b_8b", [f"data.train={train}", "data.prompt.instruction=Box it.",
                                 "data.prompt.system=Be brief.", "schedule.total_steps=2", "schedule.anneal_steps=1",
                                 "schedule.mode=split"])


def test_train_and_val_rows_by_hand():
    """Split mode, G = 16, N = 1: global step 1 is the explorer phase of logical step 1 (16 explorer sessions);
    a row's own data_source wins over the training set's name."""
    from s2lpo_cli.data.rows import Row
    from s2lpo_cli.verl_ext.draws import PlannedRow

    recipe = _hand_recipe("/data/sets/deepmath.jsonl")
    own, plain = Row("1", " q1 ", "a1", extra={"data_source": "olympiads"}), Row("2", "q2", "a2")
    assert step_plan(recipe)[0].group_size == 16
    first, second = train_table([PlannedRow(1, own, (3, 1)), PlannedRow(1, plain, ())], recipe).to_pylist()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q1\nBox it."}]
    assert first == {"data_source": "olympiads", "prompt": messages, "ability": "math",
                     "reward_model": {"style": "rule", "ground_truth": "a1"},
                     "extra_info": {"split": "train", "index": 0, "prompt_id": own.prompt_id, "step": 1, "explorer": [3, 1]},
                     "agent_name": AGENT_NAME, "__rollout_n__": 16}
    assert second["data_source"] == "deepmath" and second["extra_info"]["index"] == 1
    (val,) = val_table([plain], recipe).to_pylist()
    assert val == {"data_source": "deepmath",
                   "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q2\nBox it."}],
                   "ability": "math", "reward_model": {"style": "rule", "ground_truth": "a2"},
                   "extra_info": {"split": "val", "index": 0, "prompt_id": plain.prompt_id, "step": 0, "explorer": []}}


@pytest.mark.parametrize(("train", "name"), [("dapo17k", "dapo17k"), ("train.jsonl", "train"),
                                             ("/data/deepmath", "deepmath"), ("/data/sets/deepmath.parquet", "deepmath")])
def test_a_rows_data_source_defaults_to_the_training_sets_name(train, name):
    from s2lpo_cli.verl_ext.parquet import data_source_name

    assert data_source_name(_hand_recipe(train)) == name


def _valid(**changes) -> dict:
    """A training row verl and the agent loop accept; `changes` replace whole columns."""
    record = {"data_source": "s", "prompt": [{"role": "user", "content": "q"}], "ability": "math",
              "reward_model": {"style": "rule", "ground_truth": "1"},
              "extra_info": {"split": "train", "index": 0, "prompt_id": "p", "step": 1, "explorer": []},
              "agent_name": AGENT_NAME, "__rollout_n__": 1}  # a group of one: split mode's last explorer phase
    return {**record, **changes}


def _write_rows(path, rows, schema=None):
    from s2lpo_cli.verl_ext.parquet import TRAIN_SCHEMA

    pq.write_table(pa.Table.from_pylist(rows, schema=schema or TRAIN_SCHEMA), path)
    return path


def test_schema_validation_names_each_problem(tmp_path):
    import re

    from s2lpo_cli.verl_ext.parquet import TRAIN_SCHEMA, VAL_SCHEMA

    def refused(rows, message, *, train=True, schema=None):
        path = _write_rows(tmp_path / "t.parquet", rows, schema)
        with pytest.raises(UserError, match="^" + re.escape(f"{path}: {message}") + "$"):
            validate_verl_parquet(path, train=train)

    assert validate_verl_parquet(_write_rows(tmp_path / "ok.parquet", [_valid()]), train=True) == 1
    info = _valid()["extra_info"]
    refused([_valid(), _valid(prompt=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])],
            "row 2: prompt must end with a non-empty user message")
    refused([_valid(prompt=[{"role": "user", "content": ""}])], "row 1: prompt must end with a non-empty user message")
    refused([_valid(reward_model={"style": "rule", "ground_truth": ""})],
            "row 1: reward_model needs style 'rule' and a non-empty ground_truth")
    refused([_valid(), _valid()], "row 2: extra_info.index 0 is not unique")
    refused([_valid(extra_info={**info, "step": 0})], "row 1: extra_info.step must be a global step >= 1")
    refused([], "holds no rows")
    no_rollout_n = pa.schema([f for f in TRAIN_SCHEMA if f.name != "__rollout_n__"])
    refused([{k: v for k, v in _valid().items() if k != "__rollout_n__"}],
            "column '__rollout_n__' is missing (verl's RL schema needs it)", schema=no_rollout_n)
    int_ability = pa.schema([pa.field("ability", pa.int64()) if f.name == "ability" else f for f in VAL_SCHEMA])
    refused([{**{k: v for k, v in _valid().items() if k in VAL_SCHEMA.names}, "ability": 1}],
            "column 'ability' has type int64, expected string", train=False, schema=int_ability)
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(UserError, match="^" + re.escape(f"{tmp_path / 'text.parquet'}: not a readable parquet file (")):
        validate_verl_parquet(tmp_path / "text.parquet", train=True)
