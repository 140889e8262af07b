"""Which recipe `s2lpo sample --explorer MODEL` uses when no --recipe is given."""

from pathlib import Path

import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.lookup.recipes import recipe_for_explorer, recipes_naming
from s2lpo_cli.recipe import RECIPES_DIR


def _recipe(folder: Path, name: str, explorer: str | None, temperature: float = 1.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    models = f"  explorer: {explorer}\n" if explorer else ""
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nmodels:\n{models}  target: t\ndata:\n  train: synthetic\n"
                    f"rollout:\n  temperature: {temperature}\noutput:\n  run_dir: runs/{name}\n")
    return path


def test_shipped_recipes_by_explorer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./recipes here
    assert recipe_for_explorer("Qwen3-1.7B", RECIPES_DIR) == RECIPES_DIR / "1.7b_8b.yaml"
    assert recipe_for_explorer("Qwen/Qwen3-1.7B", RECIPES_DIR) == RECIPES_DIR / "1.7b_8b.yaml"
    assert recipe_for_explorer("Qwen3-32B", RECIPES_DIR) is None
    with pytest.raises(UserError) as exc:
        recipe_for_explorer("qwen3-4b", RECIPES_DIR)
    message = str(exc.value)
    assert "4b_14b.yaml" in message and "4b_8b.yaml" in message and "--recipe" in message


def test_local_recipes_come_before_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny_models" / "explorer").mkdir(parents=True)
    mine = _recipe(tmp_path / "recipes", "pair", "tiny_models/explorer")
    _recipe(tmp_path / "recipes", "other", "Qwen/Qwen3-4B")
    _recipe(tmp_path / "recipes", "grpo", None)
    (tmp_path / "recipes" / "broken.yaml").write_text("models: [unclosed\n")
    # the shipped `tiny` recipe names tiny_models/explorer too: the local one wins
    assert recipe_for_explorer("tiny_models/explorer", RECIPES_DIR) == Path("recipes/pair.yaml")
    assert recipe_for_explorer(str(tmp_path / "tiny_models" / "explorer"), RECIPES_DIR).resolve() == mine
    assert recipe_for_explorer("Qwen3-4B", RECIPES_DIR) == Path("recipes/other.yaml")
    assert recipe_for_explorer("Qwen3-1.7B", RECIPES_DIR) == RECIPES_DIR / "1.7b_8b.yaml"


def test_several_local_recipes_ask_for_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _recipe(tmp_path / "recipes", "a", "Qwen/Qwen3-1.7B")
    _recipe(tmp_path / "recipes", "b", "qwen3-1.7b", temperature=1.3)
    with pytest.raises(UserError, match=r"2 recipes name Qwen3-1.7B as their explorer: recipes/a.yaml, recipes/b.yaml"):
        recipe_for_explorer("Qwen3-1.7B", RECIPES_DIR)


def test_the_shipped_folder_is_not_counted_twice_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(RECIPES_DIR.parent)
    assert recipes_naming("tiny_models/explorer", Path("recipes")) == [Path("recipes/tiny.yaml"),
                                                                       Path("recipes/tiny_verl.yaml")]
    assert recipe_for_explorer("tiny_models/explorer", RECIPES_DIR) == Path("recipes/tiny.yaml")


def test_recipes_that_sample_the_same_store_count_as_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _recipe(tmp_path / "recipes", "a", "Qwen3-1.7B")
    _recipe(tmp_path / "recipes", "b", "Qwen3-1.7B")  # differs in name and run folder only
    assert recipe_for_explorer("Qwen3-1.7B", RECIPES_DIR) == Path("recipes") / first.name
