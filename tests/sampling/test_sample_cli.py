"""`s2lpo sample` end to end: the command line, kill -9 and resume, the tiny models on real data."""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.data.rollout_store import RolloutStore
from s2lpo_cli.errors import UserError
from s2lpo_cli.grading.version import RULES_VERSION
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.sampling.job import build_job
from s2lpo_cli.sampling.runner import run_sampling

runner = CliRunner()


ONE_THREAD = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
}  # tiny models: one thread is fastest, and 2 cores are shared


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "s2lpo_cli.cli.app", "sample", *args],
        capture_output=True,
        text=True,
        env=ONE_THREAD,
    )


def _dataset(path: Path, n: int) -> Path:
    rows = [{"id": i, "question": f"What is {i} + {2 * i + 1}?", "answer": str(3 * i + 1)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_input_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "1 + 1?", "answer": "2"}\n\n{"question": "2 + 2?", "answer": 4\n')
    proc = _cli("--explorer", str(tmp_path / "nowhere"), "--dataset", str(bad))
    assert proc.returncode == 2 and "no such model folder" in proc.stderr
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    proc = _cli("--explorer", str(tmp_path / "m"), "--dataset", str(bad), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}:3: not valid JSON" in proc.stderr.replace("\n", "")
    result = runner.invoke(app, ["sample", "--explorer", "m", "--engine", "sglang"], terminal_width=200)
    assert result.exit_code == 2
    assert "'sglang' is not one of 'embedded', 'vllm', 'ray'" in re.sub(r"[\s│]+", " ", result.output)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_engine_without_vllm_says_what_to_install(random_lm_dir, tmp_path):
    data = _dataset(tmp_path / "d.jsonl", 2)
    result = runner.invoke(
        app,
        [
            "sample",
            "--explorer",
            str(random_lm_dir),
            "--dataset",
            str(data),
            "--output",
            str(tmp_path / "out"),
            "--engine",
            "vllm",
            "--n",
            "2",
        ],
    )
    assert isinstance(result.exception, UserError)
    assert "pip install 's2lpo[vllm]'" in str(result.exception)


@pytest.mark.slow
def test_kill_9_then_rerun_gives_exactly_the_uninterrupted_rows(random_lm_dir, tmp_path):
    data = _dataset(tmp_path / "d.jsonl", 12)
    args = [
        "--explorer",
        str(random_lm_dir),
        "--recipe",
        "tiny",
        "--dataset",
        str(data),
        "--n",
        "2",
        "--set",
        "rollout.max_response_tokens=8",
        "--shard-size",
        "1",
        "--output",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "s2lpo_cli.cli.app", "sample", *args, str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ONE_THREAD,
    )
    deadline = time.monotonic() + 120
    while not (killed / "shards" / "part-00001.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = RolloutStore.open(killed)
    assert not partial.complete and 2 <= len(partial.existing_shards()) < 12
    resumed = _cli(*args, str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "Explorer rollouts" in resumed.stdout
    recipe = load_recipe("tiny", ["rollout.max_response_tokens=8"])
    job = build_job(
        str(random_lm_dir), recipe, dataset=str(data), n=2, output=str(tmp_path / "full"), shard_prompts=1
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the command's
    try:
        reference = run_sampling(job).store
    finally:
        torch.set_num_threads(threads)
    assert RolloutStore.open(killed).table().to_pylist() == reference.table().to_pylist()
    again = runner.invoke(app, ["sample", *args, str(killed)], terminal_width=200)
    assert again.exit_code == 0 and "already holds this run" in " ".join(again.output.split())
    manifest = json.loads((killed / "manifest.json").read_text())
    (killed / "manifest.json").write_text(json.dumps({**manifest, "grading_rules_version": 3}))
    regraded = runner.invoke(app, ["sample", *args, str(killed)], terminal_width=200)
    said = " ".join(regraded.output.split())
    assert regraded.exit_code == 0 and "already holds this run" not in said
    assert f"{killed}: its rewards were graded under rules v3; graded again under rules v{RULES_VERSION}" in said
    assert RolloutStore.open(killed).table().to_pylist() == reference.table().to_pylist()


@pytest.mark.slow
def test_tiny_explorer_on_the_synthetic_task(tiny_models, tmp_path):
    out = tmp_path / "rollouts"
    result = runner.invoke(
        app,
        [
            "sample",
            "--explorer",
            str(tiny_models / "explorer"),
            "--recipe",
            "tiny",
            "--limit",
            "16",
            "--output",
            str(out),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "Explorer rollouts" in result.output
    store = RolloutStore.open(out)
    summary = store.manifest["counts"]
    assert summary["prompts"] == 16 and summary["responses"] == 16 * 8
    assert 0.0 < summary["mean_reward"] < 1.0  # answers some, not all: GRPO needs reward variance
    groups = store.responses_by_prompt()
    assert all([r.response_index for r in g] == list(range(8)) for g in groups.values())


@pytest.mark.slow
def test_tiny_explorer_on_20_math_train_questions(tiny_models, shared_data, tmp_path):
    out = tmp_path / "math"
    result = runner.invoke(
        app,
        [
            "sample",
            "--explorer",
            str(tiny_models / "explorer"),
            "--recipe",
            "tiny",
            "--dataset",
            str(shared_data / "math_train.jsonl"),
            "--limit",
            "20",
            "--n",
            "2",
            "--set",
            "data.max_prompt_tokens=480",
            "--skip-long-prompts",
            "--output",
            str(out),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    store = RolloutStore.open(out)
    rows = store.table().to_pylist()
    kept = store.manifest["n_prompts"]
    assert 10 <= kept <= 20 and len(rows) == 2 * kept and len({r["prompt_id"] for r in rows}) == kept
    assert {r["data_source"] for r in rows} == {"math_train"}
    first = json.loads((shared_data / "math_train.jsonl").read_text().splitlines()[0])
    assert rows[0]["question"] == first["question"] and rows[0]["ground_truth"] == first["answer"]
    assert all(r["grade_status"] in ("ok", "no_answer", "timeout", "error") for r in rows)


def test_default_engine_follows_where_the_recipe_trains():
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.sampling.job import build_job

    assert build_job("tiny_models/explorer", load_recipe("tiny")).engine == "embedded"
    assert build_job("tiny_models/explorer", load_recipe("tiny_verl")).engine == "embedded"  # verl on CPU
    assert build_job("Qwen3-1.7B", load_recipe("1.7b_8b")).engine == "vllm"
