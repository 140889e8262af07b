"""The three lines a new user types first, exactly as typed, from a folder that is not the repository.

    s2lpo sample --explorer Qwen3-1.7B
    s2lpo train recipes/1.7b_8b.yaml
    s2lpo eval --mode nothink --k 16

The quick tests check what each line infers (recipe, store, run, model) without loading a model; the
slow one runs the three lines end to end on the tiny pair, then `s2lpo report runs/<name>`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _s2lpo(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one `s2lpo ...` line as typed, in cwd, with this checkout's code."""
    args = shlex.split(line)
    assert args[0] == "s2lpo"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "COLUMNS": "250", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", *args[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_sample_with_a_bare_qwen3_name_uses_the_recipe_naming_it(tmp_path):
    proc = _s2lpo("s2lpo sample --explorer Qwen3-1.7B", tmp_path)
    assert "model Qwen3-1.7B: the hub model Qwen/Qwen3-1.7B" in proc.stderr
    assert f"recipe {REPO / 'recipes' / '1.7b_8b.yaml'}: the one recipe whose explorer is this model" in proc.stderr
    # the store goes where the recipe says, so `s2lpo train recipes/1.7b_8b.yaml` finds it
    assert "explorer Qwen/Qwen3-1.7B  dataset dapo17k  n=16  engine vllm  -> rollouts/qwen3-1.7b_dapo17k" in proc.stderr
    # no model on this machine: the run stops there, with one line
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_sample_asks_for_a_recipe_when_several_name_the_explorer(tmp_path):
    proc = _s2lpo("s2lpo sample --explorer qwen3-4b", tmp_path)
    assert proc.returncode == 2
    assert "2 recipes name qwen3-4b as their explorer" in proc.stderr
    assert "4b_14b.yaml" in proc.stderr and "4b_8b.yaml" in proc.stderr and "--recipe" in proc.stderr


def test_sample_with_no_recipe_naming_the_explorer_asks_for_a_dataset(tmp_path):
    proc = _s2lpo("s2lpo sample --explorer some/model", tmp_path)
    assert proc.returncode == 2
    assert "no dataset: pass --dataset NAME_OR_PATH" in proc.stderr


def test_train_a_shipped_recipe_path_from_another_folder(tmp_path):
    proc = _s2lpo("s2lpo train recipes/1.7b_8b.yaml --dry-run", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"note: recipes/1.7b_8b.yaml does not exist here; using the shipped recipe {REPO / 'recipes' / '1.7b_8b.yaml'}" in proc.stderr
    assert "name: 1.7b_8b" in proc.stdout
    proc = _s2lpo("s2lpo train recipes/1.7b_9b.yaml", tmp_path)
    assert proc.returncode == 2 and "Did you mean '1.7b_8b'?" in proc.stderr


def test_train_spells_bare_qwen3_model_names(tmp_path):
    recipe = (REPO / "recipes" / "1.7b_8b.yaml").read_text()
    recipe = recipe.replace("explorer: Qwen/Qwen3-1.7B", "explorer: qwen3-1.7b").replace("target: Qwen/Qwen3-8B", "target: Qwen3-8B")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "short.yaml").write_text(recipe)
    proc = _s2lpo("s2lpo train recipes/short.yaml --dry-run", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "models.explorer qwen3-1.7b: the hub model Qwen/Qwen3-1.7B" in proc.stderr
    assert "explorer: Qwen/Qwen3-1.7B" in proc.stdout and "target: Qwen/Qwen3-8B" in proc.stdout


def test_eval_without_model_or_runs_says_what_to_pass(tmp_path):
    proc = _s2lpo("s2lpo eval --mode nothink --k 16", tmp_path)
    assert proc.returncode == 2
    assert "no finished training run under ./runs/" in proc.stderr and "--model" in proc.stderr


def test_eval_without_model_takes_the_newest_finished_run(tmp_path):
    for name in ("older", "newer"):
        (tmp_path / "runs" / name / "final").mkdir(parents=True)
        (tmp_path / "runs" / name / "recipe.yaml").write_text(f"name: {name}\n")
    os.utime(tmp_path / "runs" / "older" / "final", (1_000, 1_000))
    proc = _s2lpo("s2lpo eval --mode nothink --k 16", tmp_path)
    assert "no --model: evaluating the newest finished run runs/newer (runs/newer/final); results in runs/newer/eval" in proc.stderr
    # these final/ folders hold no model: refused before any work, naming the folder
    assert proc.returncode == 2 and "runs/newer/final: not a model folder" in proc.stderr


@pytest.mark.slow
def test_the_three_first_commands_on_the_tiny_pair(tiny_models, tmp_path):
    """A folder holding a recipe for the tiny pair and the three benchmarks' files (tiny questions)."""
    (tmp_path / "tiny_models").symlink_to(tiny_models, target_is_directory=True)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "pair.yaml").write_text(PAIR_RECIPE)
    heldout = (tiny_models / "data" / "heldout.jsonl").read_text().splitlines()
    (tmp_path / "data").mkdir()
    for i, bench in enumerate(("aime24", "aime25", "math500")):
        (tmp_path / "data" / f"{bench}.jsonl").write_text("\n".join(heldout[2 * i: 2 * i + 2]) + "\n")

    sample = _s2lpo("s2lpo sample --explorer tiny_models/explorer", tmp_path)
    assert sample.returncode == 0, sample.stderr
    assert "recipe recipes/pair.yaml: the one recipe whose explorer is this model" in sample.stderr
    assert (tmp_path / "rollouts" / "pair").is_dir()

    train = _s2lpo("s2lpo train recipes/pair.yaml", tmp_path)
    assert train.returncode == 0, train.stderr
    metrics = [json.loads(line) for line in (tmp_path / "runs/pair/metrics.jsonl").read_text().splitlines()]
    assert [m["g_w"] for m in metrics] == [4, 0]  # step 1 replays the stored explorer responses
    assert (tmp_path / "runs/pair/final/config.json").is_file()

    evaluation = _s2lpo("s2lpo eval --mode nothink --k 4", tmp_path)
    assert evaluation.returncode == 0, evaluation.stderr
    assert "no --model: evaluating the newest finished run runs/pair" in evaluation.stderr
    [summary] = (tmp_path / "runs/pair/eval/result").glob("*/summary.json")
    results = json.loads(summary.read_text())["benchmarks"]
    assert sorted(results) == ["aime24", "aime25", "math500"]

    report = _s2lpo("s2lpo report runs/pair", tmp_path)
    assert report.returncode == 0, report.stderr
    [run] = json.loads((tmp_path / "report" / "report.json").read_text())["runs"]
    assert run["training"] is not None and run["missing_benchmarks"] == []
    assert run["benchmarks"]["math500"]["pass@1"] == pytest.approx(results["math500"]["pass@1"])


PAIR_RECIPE = """\
# pair: the tiny explorer guides the tiny target; two steps, G=4, eight prompts.
name: pair
models:
  explorer: tiny_models/explorer
  target: tiny_models/target
  explorer_rollouts: rollouts/pair
  max_model_len: 512
data:
  train: synthetic
  prompt:
    instruction: "Put the final answer in \\\\boxed{}."
  max_prompt_tokens: 64
  limit: 8
rollout:
  group_size: 4
  max_response_tokens: 16
schedule:
  anneal_steps: 1
  total_steps: 2
optim:
  lr: 1.0e-4
  prompts_per_step: 4
  mini_batch: 4
  micro_batch: 16
  kl: {enabled: false}
engine:
  kind: embedded
  device: cpu
output:
  run_dir: runs/pair
"""
