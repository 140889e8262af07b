"""The validation section's checks: unknown or missing benchmarks are refused before training starts,
naming the benchmark and where the check looked; `every` beyond the run is a warning."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.preflight.findings import PreflightError
from s2lpo_cli.preflight.validation import check_validation, validation_warnings
from s2lpo_cli.recipe import load_recipe


def _recipe(*sets: str):
    return load_recipe("tiny", ["validation.every=5", *sets])


def _codes(findings) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in findings]


def test_an_unknown_benchmark_is_refused_with_the_registered_names():
    (finding,) = check_validation(_recipe("validation.benchmarks=[math50]"), strict=True)
    assert (finding.code, finding.field) == ("validation.unknown_benchmark", "validation.benchmarks")
    assert "Did you mean 'math500'?" in finding.message and "aime24, aime25, commonsenseqa, math500" in finding.message
    # unknown is unknown on every machine: a dry run refuses it too
    assert _codes(check_validation(_recipe("validation.benchmarks=[math50]"), strict=False)) == [
        ("validation.unknown_benchmark", "error")]


def test_a_registered_benchmark_without_its_file_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr("s2lpo_cli.preflight.validation.has_datasets", lambda: False)
    recipe = _recipe("validation.benchmarks=[aime24]", f"validation.data_dir={tmp_path}")
    (finding,) = check_validation(recipe, strict=True)
    assert finding.code == "validation.no_data"
    assert f"aime24: no local file {tmp_path / 'aime24.jsonl'}" in finding.message
    assert "datasets" in finding.message
    assert _codes(check_validation(recipe, strict=False)) == [("validation.no_data", "not_checked")]


def test_a_benchmark_file_that_is_not_there_is_refused(tmp_path):
    missing = tmp_path / "held" / "out.jsonl"
    (finding,) = check_validation(_recipe(f"validation.benchmarks=[{missing}]"), strict=True)
    assert finding.code == "validation.no_file" and str(missing) in finding.message


def test_bad_rows_are_refused_naming_file_and_line(tmp_path):
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n')
    (finding,) = check_validation(_recipe(f"validation.benchmarks=[{bad}]"), strict=True)
    assert finding.code == "validation.bad_data" and f"{bad}:2" in finding.message


def test_present_files_and_validation_off_pass(tmp_path, shared_data):
    good = tmp_path / "mine.jsonl"
    good.write_text('{"question": "1+1?", "answer": "2"}\n')
    assert check_validation(_recipe(f"validation.benchmarks=[aime24, {good}]", f"validation.data_dir={shared_data}"),
                            strict=True) == []
    assert check_validation(_recipe("validation.every=0", "validation.benchmarks=[nope]"), strict=True) == []


def test_verl_needs_the_mode_its_prompts_are_rendered_in(tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text('{"question": "1+1?", "answer": "2"}\n')
    recipe = _recipe(f"validation.benchmarks=[{good}]", "validation.mode=think")
    assert check_validation(recipe, strict=True) == []  # embedded: eval's own prompt rendering
    (finding,) = check_validation(recipe, strict=True, engine="verl")
    assert (finding.code, finding.field) == ("validation.verl_mode", "validation.mode")
    assert "set validation.mode to nothink" in finding.message


def test_every_beyond_the_run_is_a_warning_not_a_silent_no_op():
    (warning,) = validation_warnings(_recipe("validation.every=150"))
    assert warning.startswith("validation.every: 150 > schedule.total_steps 100")
    assert "before training and after the last step" in warning
    assert validation_warnings(_recipe("validation.every=100")) == []
    result = CliRunner().invoke(app, ["train", "tiny", "--dry-run", "--set", "validation.every=150"])
    assert result.exit_code == 0 and "warning: validation.every: 150 > schedule.total_steps 100" in result.output


def test_training_with_a_missing_benchmark_stops_before_writing(tiny_models, tmp_path):
    from s2lpo_cli.training.run import run_training

    run_dir = tmp_path / "run"
    recipe = load_recipe("tiny", [
        "models.explorer=null", "models.explorer_rollouts=null", "schedule.anneal_steps=0",
        f"models.target={tiny_models / 'target'}", f"data.train={tiny_models / 'data' / 'train.jsonl'}",
        f"output.run_dir={run_dir}", f"validation.benchmarks=[{tmp_path / 'nowhere.jsonl'}]",
    ])
    with pytest.raises(PreflightError, match="validation.benchmarks: .*nowhere.jsonl: no such file"):
        run_training(recipe)
    assert not run_dir.exists()


def test_verl_refuses_validation_prompts_longer_than_data_max_prompt_tokens(tiny_models, tmp_path):
    from s2lpo_cli.engines.loading import load_tokenizer

    heldout = tiny_models / "data" / "heldout.jsonl"
    recipe = _recipe(f"validation.benchmarks=[{heldout}]", "validation.limit=3", "data.max_prompt_tokens=8")
    tokenizer = load_tokenizer(str(tiny_models / "target"))
    (finding,) = check_validation(recipe, strict=True, engine="verl", tokenizer=tokenizer)
    assert (finding.code, finding.field) == ("validation.prompt_too_long", "data.max_prompt_tokens")
    assert finding.message.startswith("3 of heldout's 3 validation prompts are longer than 8 tokens")
    assert check_validation(recipe, strict=True, tokenizer=tokenizer) == []  # embedded: eval skips such a prompt
    fits = _recipe(f"validation.benchmarks=[{heldout}]", "validation.limit=3")  # tiny's 64 tokens
    assert check_validation(fits, strict=True, engine="verl", tokenizer=tokenizer) == []
