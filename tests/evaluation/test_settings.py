"""An evaluation's settings: the mode's sampling with overrides, the refusals, the engine's parameters."""

from __future__ import annotations

import pytest

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION

NOTHINK = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5, "max_tokens": 32768}


def test_overrides_that_are_not_none_replace_the_modes_defaults():
    assert resolve_sampling("nothink", temperature=None, top_k=-1, max_tokens=64) == {
        **NOTHINK, "top_k": -1, "max_tokens": 64,
    }
    with pytest.raises(UserError, match=r"^--mode must be one of: think, nothink \(got 'fast'\)$"):
        resolve_sampling("fast")
    with pytest.raises(ValueError, match=r"^unknown sampling parameter\(s\): min_p, seed$"):
        resolve_sampling("think", seed=1, min_p=0.1, temperature=1.0)


def _settings(**changes) -> EvalSettings:
    return EvalSettings(**{"model": "m", "mode": "nothink", "k": 3, "sampling": NOTHINK, "seed": 7,
                           "benchmarks": {"a": None}, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": 0}, r"--k must be at least 1 \(got 0\)"),
        ({"limit": 0}, r"--limit must be at least 1 \(got 0\)"),
        ({"benchmarks": {}}, "no benchmarks to run: name some with --benchmarks or give --benchmark-file"),
    ],
    ids=["k", "limit", "benchmarks"],
)
def test_settings_that_cannot_run_are_refused(changes, message):
    with pytest.raises(UserError, match=rf"^{message}$"):
        _settings(**changes)


def test_the_smallest_settings_that_run():
    assert _settings(k=1, limit=1).limit == 1 and _settings(limit=None).limit is None


def test_the_engines_sampling_parameters_and_each_questions_seed():
    assert _settings().sampling_params() == SamplingParams(
        n=3, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5, max_tokens=32768, seed=7,
        enable_thinking=False,
    )
    assert _settings(mode="think").sampling_params().enable_thinking
    # int(sha256("<seed>:<id>").hexdigest()[:8], 16), pinned: a resumed run must draw the same samples
    assert _settings(seed=0).question_seed("q1") == 3448978384
    assert _settings(seed=7).question_seed("q1") == 3256139518


def test_settings_round_trip_through_a_dict():
    settings = _settings(limit=5, instruction="Answer.", benchmarks={"a": None, "b": "/data/b.jsonl"})
    assert settings.to_dict()["pass_ks"] == [1, 2, 4, 8, 16]
    assert EvalSettings.from_dict(settings.to_dict()) == settings


def test_a_file_named_like_a_registered_benchmark_is_asked_with_the_default_instruction():
    """A --benchmark-file commonsenseqa.jsonl is a file of questions: not the registered CommonsenseQA's
    letter-choice instruction, but the default one."""
    own = _settings(benchmarks={"commonsenseqa": None})
    assert own.instruction_for("commonsenseqa") == (
        "Please reason step by step, and put the letter of the correct choice (A, B, C, D or E) within \\boxed{}."
    )
    a_file = _settings(benchmarks={"commonsenseqa": "/data/commonsenseqa.jsonl"})
    assert a_file.instruction_for("commonsenseqa") == DEFAULT_INSTRUCTION
    assert _settings(benchmarks={"toy": "/data/toy.jsonl"}, instruction="Answer.").instruction_for("toy") == "Answer."
