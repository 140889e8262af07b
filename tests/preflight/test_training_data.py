"""The data checks both trainers share: training set, explorer store, tokenizer, prompt token ids, coverage."""

from __future__ import annotations

import pytest

from s2lpo_cli.preflight import store as codes
from s2lpo_cli.preflight.training_data import DATA_UNAVAILABLE, check_training_data
from s2lpo_cli.prompting import tokenizer_hash

from .conftest import QUESTIONS, CharTokenizer, recipe_for, write_store


def _codes(findings, severity="error"):
    return [f.code for f in findings if f.severity == severity]


def _check(recipe, tokenizer=None, reuse=True, strict=True):
    return check_training_data(recipe, tokenizer, reuse=reuse, strict=strict)


def test_a_matching_store_passes_and_its_responses_come_back(train_file, tmp_path):
    tok = CharTokenizer()
    store = write_store(tmp_path / "store", tok, QUESTIONS, n=6)
    data, findings = _check(recipe_for(train_file, store), tok, reuse=False)
    assert findings == []
    assert len(data.rows) == 8 and len(data.prompt_ids) == 8 and data.store is not None
    assert all(len(group) == 6 for group in data.responses.values())


def test_grpo_needs_no_store(train_file, tmp_path):
    data, findings = _check(recipe_for(train_file, tmp_path / "absent", "schedule.anneal_steps=0"), CharTokenizer())
    assert findings == [] and data.store is None


def test_training_set_not_here_is_an_error_or_not_checked(tmp_path):
    recipe = recipe_for(tmp_path / "absent.jsonl", None)
    assert _codes(_check(recipe)[1]) == [DATA_UNAVAILABLE]
    assert _codes(_check(recipe, strict=False)[1], "not_checked") == [DATA_UNAVAILABLE]


def test_store_not_set_or_not_found(train_file, tmp_path):
    assert _codes(_check(recipe_for(train_file, None, "models.explorer_rollouts=null"))[1]) == [codes.NOT_SET]
    recipe = recipe_for(train_file, tmp_path / "absent")
    [finding] = _check(recipe)[1]
    assert finding.code == codes.UNAVAILABLE and str(tmp_path / "absent") in finding.message
    assert _codes(_check(recipe, strict=False)[1], "not_checked") == [codes.UNAVAILABLE]


def test_store_of_another_tokenizer(train_file, tmp_path):
    tok = CharTokenizer()
    store = write_store(tmp_path / "store", tok, QUESTIONS, n=6, tokenizer_hash="0123456789abcdef")
    [finding] = _check(recipe_for(train_file, store), tok)[1]  # its prompt ids are not compared: they mean other text
    assert finding.code == codes.TOKENIZER_MISMATCH and finding.field == "models.explorer_rollouts"
    assert "0123456789abcdef" in finding.message and tokenizer_hash(tok) in finding.message
    assert _check(recipe_for(train_file, store))[1] == []  # without the target's tokenizer: not comparable


def test_prompt_token_ids_decide_whatever_the_manifest_says(train_file, tmp_path):
    tok = CharTokenizer()
    # same manifest fields, other ids (another chat template under the same tokenizer hash)
    other_ids = write_store(tmp_path / "ids", CharTokenizer(marker="X"), QUESTIONS, n=6, tokenizer_hash=tokenizer_hash(tok))
    [finding] = _check(recipe_for(train_file, other_ids), tok)[1]
    assert finding.code == codes.PROMPT_MISMATCH and "8 of the 8 prompts" in finding.message
    # another manifest field that renders the same ids (no system message either way): passes
    same_ids = write_store(tmp_path / "same", tok, QUESTIONS, n=6, system="")
    assert _check(recipe_for(train_file, same_ids), tok)[1] == []


def test_store_sampled_with_another_instruction(train_file, tmp_path):
    tok = CharTokenizer()
    store = write_store(tmp_path / "store", tok, QUESTIONS, n=6, instruction="Think hard.")
    [finding] = _check(recipe_for(train_file, store), tok)[1]
    assert finding.code == codes.PROMPT_MISMATCH and "instruction='Think hard.'" in finding.message
    [finding] = _check(recipe_for(train_file, store), None)[1]  # no tokenizer here: the manifest decides
    assert finding.code == codes.PROMPT_MISMATCH and "another prompt (instruction='Think hard.')" in finding.message


def test_prompts_missing_from_the_store(train_file, tmp_path):
    tok = CharTokenizer()
    store = write_store(tmp_path / "store", tok, QUESTIONS[:4], n=6)
    [finding] = _check(recipe_for(train_file, store), tok)[1]
    assert finding.code == codes.MISSING_PROMPTS and finding.message.startswith("4 training prompt(s)")


@pytest.mark.parametrize("reuse, refused", [(True, False), (False, True)])
def test_too_few_responses_follow_the_engines_draw_rule(train_file, tmp_path, reuse, refused):
    """G_w = 4, 3, 2 over three steps of 4 of 8 prompts: the largest draw is 4, some prompts are drawn 6 times."""
    tok = CharTokenizer()
    store = write_store(tmp_path / "store", tok, QUESTIONS, n=4)
    findings = _check(recipe_for(train_file, store), tok, reuse=reuse)[1]
    assert _codes(findings) == ([codes.TOO_FEW_RESPONSES] if refused else [])
    if refused:
        assert "has 4, needs 6" in findings[0].message and "`s2lpo sample --n 6`" in findings[0].message


def test_too_few_prompts_skips_the_store(train_file, tmp_path):
    data, findings = _check(recipe_for(train_file, tmp_path / "absent", "data.limit=3"), CharTokenizer())
    assert _codes(findings) == ["data.too_few_prompts"] and data.store is None


def test_too_long_prompts_are_found_with_the_targets_tokenizer(train_file, tmp_path):
    store = write_store(tmp_path / "store", CharTokenizer(), QUESTIONS, n=6)
    findings = _check(recipe_for(train_file, store, "data.max_prompt_tokens=10"), CharTokenizer())[1]
    assert _codes(findings) == ["prompt.too_long"]
    assert _check(recipe_for(train_file, store, "data.max_prompt_tokens=10"), None)[1] == []  # not measurable here
