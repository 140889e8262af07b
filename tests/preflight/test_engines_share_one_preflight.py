"""`s2lpo sample`, the embedded trainer and verl run the same checks: the same bad input, the same finding code."""

from __future__ import annotations

import pytest

from s2lpo_cli.preflight.findings import PreflightError, errors

from .conftest import on_verl, tiny_recipe, write_store


def _embedded_codes(recipe) -> set[str]:
    from s2lpo_cli.training.run import preflight

    with pytest.raises(PreflightError) as info:
        preflight(recipe)
    return {f.code for f in info.value.findings}


def _verl_codes(recipe) -> set[str]:
    pytest.importorskip("verl")
    from s2lpo_cli.verl_ext.launch import run_checks

    findings, _ = run_checks(on_verl(recipe), None, strict=False)
    return {f.code for f in errors(findings)}


@pytest.mark.verl
def test_a_too_long_prompt_is_one_finding_for_all_three_engines(tiny_models, tiny_questions, tmp_path):
    from transformers import AutoTokenizer

    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.runner import run_sampling

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), tiny_questions, n=40,
                        instruction="Put the final answer in \\boxed{}.")
    recipe = tiny_recipe(tiny_models, store, tmp_path / "run", "data.max_prompt_tokens=5")
    with pytest.raises(PreflightError) as info:
        run_sampling(build_job(str(tiny_models / "explorer"), recipe, limit=12, output=str(tmp_path / "new")))
    assert {f.code for f in info.value.findings} == {"prompt.too_long"}
    assert _embedded_codes(recipe) == {"prompt.too_long"}
    assert _verl_codes(recipe) == {"prompt.too_long"}
    assert not (tmp_path / "run").exists() and not (tmp_path / "new").exists()


@pytest.mark.verl
def test_a_store_of_another_tokenizer_is_one_finding_for_both_trainers(tiny_models, tiny_questions, tmp_path):
    from transformers import AutoTokenizer

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), tiny_questions, n=40,
                        tokenizer_hash="0123456789abcdef")
    recipe = tiny_recipe(tiny_models, store, tmp_path / "run")
    assert _embedded_codes(recipe) == {"store.tokenizer_mismatch"}
    assert _verl_codes(recipe) == {"store.tokenizer_mismatch"}


@pytest.mark.verl
def test_a_store_too_small_for_verl_passes_the_embedded_trainer(tiny_models, tiny_questions, tmp_path):
    """One coverage check, two draw rules: the embedded trainer reuses a prompt's responses, verl does not."""
    from transformers import AutoTokenizer

    from s2lpo_cli.training.run import preflight

    store = write_store(tmp_path / "store", AutoTokenizer.from_pretrained(tiny_models / "target"), tiny_questions, n=8)
    recipe = tiny_recipe(tiny_models, store, tmp_path / "run")
    assert preflight(recipe).explorer is not None
    assert _verl_codes(recipe) == {"store.too_few_responses"}
