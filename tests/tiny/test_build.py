"""The build code: a pair built here (`s2lpo tiny init --build --quick`, the `tiny_quick_build` fixture)."""

import json

import pytest

from s2lpo_cli.data.rows import read_rows
from s2lpo_cli.prompting import tokenizer_hash
from s2lpo_cli.tiny import task
from s2lpo_cli.tiny.accuracy import accuracy_by_family
from s2lpo_cli.tiny.build import MODELS, fingerprint, warmup_plan


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_transfer_target_warms_up_on_sum3_never_a_chain_and_the_explorer_the_other_way(profile):
    explorer, target = (warmup_plan("transfer", profile, name).family_weights for name in MODELS)
    assert explorer["sum3"] == 0 < explorer["chain"]  # a weight left out would count as 1.0
    assert target["chain"] == 0 < target["sum3"]


@pytest.fixture(scope="module")
def loaded(tiny_quick_build):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return {
        name: (
            AutoModelForCausalLM.from_pretrained(tiny_quick_build / name),
            AutoTokenizer.from_pretrained(tiny_quick_build / name),
        )
        for name in ("explorer", "target")
    }


def test_layout(tiny_quick_build):
    for name in ("explorer", "target"):
        files = {p.name for p in (tiny_quick_build / name).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= files
        assert not any(f.endswith((".bin", ".pt")) for f in files)
        assert json.loads((tiny_quick_build / name / "config.json").read_text())["architectures"] == [
            "Qwen3ForCausalLM"
        ]
    assert [r.answer for r in read_rows(tiny_quick_build / "data" / "train.jsonl")] == [
        r["answer"] for r in task.rows(0, "train")
    ]
    heldout = read_rows(tiny_quick_build / "data" / "heldout.jsonl")
    assert [r.question for r in heldout] == [r["question"] for r in task.rows(0, "heldout")]


@pytest.mark.slow
def test_models_load_and_share_one_tokenizer(loaded):
    (explorer, explorer_tok), (target, target_tok) = loaded["explorer"], loaded["target"]
    assert type(explorer).__name__ == type(target).__name__ == "Qwen3ForCausalLM"
    assert tokenizer_hash(explorer_tok) == tokenizer_hash(target_tok)
    assert explorer.config.vocab_size == target.config.vocab_size == len(explorer_tok)


@pytest.mark.slow
def test_explorer_is_at_least_3x_smaller(loaded):
    explorer_params = sum(p.numel() for p in loaded["explorer"][0].parameters())
    target_params = sum(p.numel() for p in loaded["target"][0].parameters())
    assert target_params >= 3 * explorer_params


@pytest.mark.slow
@pytest.mark.parametrize("name", ["explorer", "target"])
def test_saved_models_answer_some_but_not_all(tiny_quick_build, loaded, name):
    manifest = json.loads((tiny_quick_build / "build.json").read_text())
    recorded = {m["name"]: m for m in manifest["models"]}[name]["train_accuracy"]["all"]
    model, tok = loaded[name]
    measured = accuracy_by_family(model, tok, task.problems(0, "train", 200), temperature=1.0, seed=0)["all"]
    assert 0 < measured < 1
    assert abs(measured - recorded) <= 0.1  # the saved weights are the ones whose accuracy the build recorded


def test_manifest_records_the_build(tiny_quick_build):
    manifest = json.loads((tiny_quick_build / "build.json").read_text())
    assert [m["name"] for m in manifest["models"]] == ["explorer", "target"]
    assert manifest["profile"] == "quick" and manifest["seed"] == 0 and manifest["task"] == "arith"
    assert manifest["fingerprint"] == fingerprint(0, "quick", "arith")  # the build of this code
