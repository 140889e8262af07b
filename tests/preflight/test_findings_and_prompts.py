"""The one finding type, the error that carries findings, and the prompt checks every engine runs."""

from __future__ import annotations

import pytest

from s2lpo_cli.data.rows import Row
from s2lpo_cli.errors import UserError
from s2lpo_cli.preflight.findings import Finding, PreflightError, raise_errors
from s2lpo_cli.preflight.prompts import (
    TOO_FEW_PROMPTS,
    TOO_LONG,
    check_lengths,
    check_prompt_count,
    encode_rows,
)
from s2lpo_cli.recipe import PromptConfig

from .conftest import CharTokenizer, recipe_for


def test_raise_errors_lists_every_error_and_ignores_checks_not_made():
    findings = [
        Finding("a.one", "data.train", "first problem"),
        Finding("gpus.not_checked", "engine.gpus_per_node", "not here", "not_checked"),
        Finding("b.two", "optim.lr", "second problem"),
    ]
    with pytest.raises(PreflightError) as info:
        raise_errors("cannot train tiny", findings)
    assert isinstance(info.value, UserError)  # exit code 2 in the CLI
    assert [f.code for f in info.value.findings] == ["a.one", "b.two"]
    assert str(info.value) == "cannot train tiny: 2 problem(s):\ndata.train: first problem\noptim.lr: second problem"
    raise_errors("cannot train tiny", findings[1:2])  # only a check not made: nothing raised
    assert findings[1].as_error().severity == "error"


def test_prompts_render_with_the_template_and_the_longest_is_named():
    rows = [Row(id="r1", question="short", answer="1"), Row(id="r2", question="a much longer question", answer="2")]
    prompt = PromptConfig(instruction="Box it.", system="Be brief.", enable_thinking=True)
    ids = encode_rows(CharTokenizer(), rows, prompt)
    assert "".join(map(chr, ids[0])) == "<system>Be brief.<user>short\nBox it.<think>"
    limit = len(ids[0])
    [finding] = check_lengths(rows, ids, limit, "train.jsonl", remedy=" or pass --skip-long-prompts")
    assert finding.code == TOO_LONG and finding.field == "data.max_prompt_tokens"
    assert f"1 prompt(s) of train.jsonl are longer than {limit} tokens (longest: row r2, {len(ids[1])} tokens)" in (
        finding.message)
    assert finding.message.endswith("or pass --skip-long-prompts")
    assert check_lengths(rows, ids, len(ids[1]), "train.jsonl") == []


def test_a_training_set_smaller_than_a_step_is_refused(train_file):
    recipe = recipe_for(train_file, None)  # 4 prompts per step
    [finding] = check_prompt_count(3, recipe)
    assert finding.code == TOO_FEW_PROMPTS and finding.field == "optim.prompts_per_step"
    assert "holds 3" in finding.message
    assert check_prompt_count(4, recipe) == []
