"""`s2lpo sample`, the embedded trainer and verl run the same checks: the same bad input, the same finding code."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2lpo_cli.data.rows import read_rows
from s2lpo_cli.preflight.findings import PreflightError, errors
from s2lpo_cli.recipe import load_recipe

from .conftest import write_store


def _recipe(tiny_models: Path, store: Path, run_dir: Path, *sets: str):
    return load_recipe("tiny", [
        f"models.target={tiny_models / 'target'}", f"models.explorer={tiny_models / 'explorer'}",
        f"models.explorer_rollouts={store}", f"output.run_dir={run_dir}",
        f"data.train={tiny_models / 'data' / 'train.jsonl'}", "data.limit=12", "schedule.total_steps=8",
        "schedule.anneal_steps=4", "optim.prompts_per_step=8", "optim.mini_batch=8", "optim.micro_batch=32", *sets,
    ])


def _verl(recipe):
    return recipe.model_copy(update={"engine": recipe.engine.model_copy(update={
        "kind": "verl", "gpus_per_node": 1, "tensor_parallel_size": 1})})


def _embedded_codes(recipe) -> set[str]:
    from s2lpo_cli.training.run import preflight

    with pytest.raises(PreflightError) as info:
        preflight(recipe)
    return {f.code for f in info.value.findings}


def _verl_codes(recipe) -> set[str]:
    pytest.importorskip("verl")
    from s2lpo_cli.verl_ext.launch import run_checks

    findings, _ = run_checks(_verl(recipe), None, strict=False)
    return {f.code for f in errors(findings)}


@pytest.fixture(scope="module")
def questions(tiny_models) -> list[str]:
    return [r.question for r in read_rows(tiny_models / "data" / "train.jsonl", limit=12)]


@pytest.mark.verl
def test_a_too_long_prompt_is_one_finding_for_all_three_engines(tiny_models, questions, tmp_path):
    from transformers import AutoTokenizer

    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.runner import run_sampling

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), questions, n=40,
                        instruction="Put the final answer in \\boxed{}.")
    recipe = _recipe(tiny_models, store, tmp_path / "run", "data.max_prompt_tokens=5")
    with pytest.raises(PreflightError) as info:
        run_sampling(build_job(str(tiny_models / "explorer"), recipe, limit=12, output=str(tmp_path / "new")))
    assert {f.code for f in info.value.findings} == {"prompt.too_long"}
    assert _embedded_codes(recipe) == {"prompt.too_long"}
    assert _verl_codes(recipe) == {"prompt.too_long"}
    assert not (tmp_path / "run").exists() and not (tmp_path / "new").exists()


@pytest.mark.verl
def test_a_store_of_another_tokenizer_is_one_finding_for_both_trainers(tiny_models, questions, tmp_path):
    from transformers import AutoTokenizer

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), questions, n=40,
                        tokenizer_hash="0123456789abcdef")
    recipe = _recipe(tiny_models, store, tmp_path / "run")
    assert _embedded_codes(recipe) == {"store.tokenizer_mismatch"}
    assert _verl_codes(recipe) == {"store.tokenizer_mismatch"}


@pytest.mark.verl
def test_a_store_too_small_for_verl_passes_the_embedded_trainer(tiny_models, questions, tmp_path):
    """One coverage check, two draw rules: the embedded trainer reuses a prompt's responses, verl does not."""
    from transformers import AutoTokenizer

    from s2lpo_cli.training.run import preflight

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), questions, n=8)
    recipe = _recipe(tiny_models, store, tmp_path / "run")
    assert preflight(recipe).explorer is not None
    assert _verl_codes(recipe) == {"store.too_few_responses"}
