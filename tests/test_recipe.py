from pathlib import Path

import pytest
from pydantic import ValidationError

from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import RECIPES_DIR, Recipe, load_recipe, shipped_recipes

SHIPPED = sorted(RECIPES_DIR.glob("*.yaml"))


def test_the_five_recipes_are_shipped():
    assert {"tiny", "1.7b_8b", "4b_8b", "4b_14b", "grpo_8b"} <= set(shipped_recipes())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_recipe_validates_and_opens_with_a_header(path: Path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    head = path.read_text().splitlines()[:4]
    assert head[0].startswith("# ") and any("Run:" in line for line in head)
    assert any("Override:" in line for line in path.read_text().splitlines()[:6])


def test_reference_4b_8b_values():
    r = load_recipe("4b_8b")
    assert (r.rollout.group_size, r.schedule.anneal_steps, r.schedule.total_steps) == (16, 8, 16)
    assert (r.optim.lr, r.optim.prompts_per_step, r.optim.mini_batch) == (1e-6, 1024, 32)
    assert (r.data.max_prompt_tokens, r.rollout.max_response_tokens) == (512, 4096)
    assert (r.optim.kl.enabled, r.optim.kl.coef, r.optim.kl.type) == (True, 0.001, "low_var_kl")
    assert (r.engine.kind, r.engine.gpus_per_node, r.engine.gpu_memory_utilization) == ("verl", 8, 0.5)
    assert load_recipe("4b_14b").optim.mini_batch == 16
    assert load_recipe("grpo_8b").is_grpo


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


BASE = """name: t
models:
  target: some/model
  explorer: some/small
data:
  train: synthetic
output:
  run_dir: runs/t
"""


def test_misspelled_key_names_file_line_field_and_suggestion(tmp_path):
    p = _write(tmp_path, BASE.replace("  explorer: some/small", "  explroer: some/small"))
    with pytest.raises(UserError) as exc:
        load_recipe(p)
    msg = str(exc.value)
    assert f"{p}:4: models.explroer: unknown field (did you mean 'explorer'?)" in msg


def test_all_problems_reported_at_once_with_lines(tmp_path):
    text = BASE + "rollout:\n  group_size: many\n  temperatur: 0.5\n"
    with pytest.raises(UserError) as exc:
        load_recipe(_write(tmp_path, text))
    msg = str(exc.value)
    assert "2 problem(s)" in msg
    assert ":10: rollout.group_size:" in msg and "'many'" in msg
    assert ":11: rollout.temperatur: unknown field (did you mean 'temperature'?)" in msg


def test_cross_field_rules_have_fix_it_messages(tmp_path):
    text = BASE + "schedule:\n  anneal_steps: 20\n  total_steps: 10\nrollout:\n  group_size: 1\n"
    with pytest.raises(UserError) as exc:
        load_recipe(_write(tmp_path, text))
    msg = str(exc.value)
    assert "schedule.anneal_steps: 20 > schedule.total_steps 10" in msg
    assert "rollout.group_size: is 1; GRPO needs G >= 2" in msg


def test_verl_batch_arithmetic(tmp_path):
    text = BASE + "engine:\n  kind: verl\n  gpus_per_node: 8\noptim:\n  prompts_per_step: 64\n  mini_batch: 32\n  micro_batch: 3\n"
    with pytest.raises(UserError, match="not divisible by micro_batch 3"):
        load_recipe(_write(tmp_path, text))


def test_context_length_rule(tmp_path):
    text = BASE.replace("  target: some/model", "  target: some/model\n  max_model_len: 1000")
    with pytest.raises(UserError, match="models.max_model_len 1000"):
        load_recipe(_write(tmp_path, text))


def test_set_overrides_are_revalidated():
    r = load_recipe("tiny", ["optim.lr=3e-4", "schedule.mode=split"])
    assert r.optim.lr == 3e-4 and r.schedule.mode == "split"
    with pytest.raises(UserError, match=r"--set.*schedule.mode"):
        load_recipe("tiny", ["schedule.mode=interleaved"])
    with pytest.raises(UserError, match="unknown field"):
        load_recipe("tiny", ["optim.lrr=1"])


def test_missing_file_and_unknown_name():
    with pytest.raises(UserError, match="no such file"):
        load_recipe("recipes/nope.yaml")
    with pytest.raises(UserError, match="Did you mean '4b_8b'"):
        load_recipe("4b_8")


def test_recipe_is_frozen_and_baseline_drops_explorer():
    r = load_recipe("tiny")
    with pytest.raises(ValidationError):
        r.optim.lr = 1.0  # type: ignore[misc]
    b = r.as_baseline()
    assert b.is_grpo and b.models.explorer is None and b.output.run_dir.endswith("_grpo")
    assert r.schedule.anneal_steps == 40  # the original is untouched


def test_the_json_schema_is_generated_from_the_model():
    schema = Recipe.model_json_schema()
    assert schema["title"] == "Recipe" and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "models", "data", "output"}


def test_a_missing_recipes_path_falls_back_to_the_shipped_recipe_of_that_stem(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert load_recipe("recipes/1.7b_8b.yaml").name == "1.7b_8b"
    assert "recipes/1.7b_8b.yaml does not exist here; using the shipped recipe" in capsys.readouterr().err
    with pytest.raises(UserError, match="Did you mean '1.7b_8b'"):
        load_recipe("recipes/1.7b_9b.yaml")
    # a file that exists is always the one used
    (tmp_path / "recipes").mkdir()
    shipped = (RECIPES_DIR / "1.7b_8b.yaml").read_text()
    (tmp_path / "recipes" / "1.7b_8b.yaml").write_text(shipped.replace("name: 1.7b_8b", "name: mine"))
    assert load_recipe("recipes/1.7b_8b.yaml").name == "mine"
    assert "shipped" not in capsys.readouterr().err


def test_validation_section_takes_set_overrides_and_refuses_unknown_keys():
    r = load_recipe("tiny", ["validation.every=3", "validation.benchmarks=[math500, aime24]", "validation.k=8"])
    assert (r.validation.every, r.validation.benchmarks, r.validation.k) == (3, ["math500", "aime24"], 8)
    with pytest.raises(UserError, match=r"validation.evry: unknown field \(did you mean 'every'\?\)"):
        load_recipe("tiny", ["validation.evry=3"])
    with pytest.raises(UserError, match="validation.benchmarks: validation.every > 0 needs at least one benchmark"):
        load_recipe("tiny", ["validation.benchmarks=[]"])
    assert load_recipe("tiny", ["validation.every=0", "validation.benchmarks=[]"]).validation.enabled is False
    for name in ("1.7b_8b", "4b_8b", "4b_14b", "grpo_8b"):
        assert load_recipe(name).validation.benchmarks == ["math500", "aime24"]
