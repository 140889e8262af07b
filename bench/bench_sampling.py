"""Sampling throughput: the embedded engine's batched sampling against Hugging Face `generate`.

The tiny target's architecture with random weights (so responses run to the length limit: fixed work),
the same prompts, G responses per prompt, MAX_TOKENS per response, temperature 1. Three ways to get them:
- s2lpo: `EmbeddedEngine.generate`, all prompts x G in one batch (KV cache, prefill shared by a prompt's G);
- baseline: one-prompt-at-a-time `model.generate`, one response per call (G calls per prompt);
- for reference: `model.generate` once per prompt with num_return_sequences=G.
Each is run once untimed (warm-up), then timed. Target: s2lpo >= 3x the baseline's tokens/s.

Run: python -m bench.bench_sampling   (or via `make bench`)
"""

from __future__ import annotations

import time

PROMPTS, G, MAX_TOKENS, SEED = 4, 16, 32, 0
TARGET_RATIO = 3.0


def _tiny_target():
    from s2lpo_cli.tiny import task
    from s2lpo_cli.tiny.models import TARGET_SIZE, new_model
    from s2lpo_cli.tiny.tokenizer import train_tokenizer

    problems = task.problems(SEED, "train", PROMPTS)
    tokenizer = train_tokenizer([p.question for p in task.problems(SEED, "warmup", 200)])
    return new_model(TARGET_SIZE, tokenizer, seed=SEED).eval(), tokenizer, [p.question for p in problems]


def _timed(fn):
    fn()  # warm-up
    start = time.perf_counter()
    tokens = fn()
    return tokens, time.perf_counter() - start


def main() -> dict[str, float]:
    import torch

    from s2lpo_cli.engines.base import SamplingParams
    from s2lpo_cli.engines.embedded import EmbeddedEngine
    from s2lpo_cli.prompting import build_messages, render_prompt
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION

    model, tokenizer, questions = _tiny_target()
    messages = [build_messages(q, TINY_INSTRUCTION) for q in questions]
    engine = EmbeddedEngine(model, tokenizer, max_batch_rows=PROMPTS * G)
    params = SamplingParams(n=G, temperature=1.0, max_tokens=MAX_TOKENS)

    def ours() -> int:
        outputs = engine.generate(messages, params, seeds=list(range(PROMPTS)))
        return sum(len(c.token_ids) for o in outputs for c in o.completions)

    encoded = [tokenizer(render_prompt(tokenizer, m, False), return_tensors="pt", add_special_tokens=False)
               for m in messages]
    hf_args = {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "max_new_tokens": MAX_TOKENS,
               "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}

    def generated_tokens(out, prompt_len: int) -> int:
        new = out[:, prompt_len:]
        return int(((new != tokenizer.pad_token_id).cumprod(dim=1)).sum())

    def one_at_a_time() -> int:
        tokens = 0
        with torch.inference_mode():
            for enc in encoded:
                for _ in range(G):
                    tokens += generated_tokens(model.generate(**enc, **hf_args), enc.input_ids.shape[1])
        return tokens

    def per_prompt_batch() -> int:
        tokens = 0
        with torch.inference_mode():
            for enc in encoded:
                out = model.generate(**enc, num_return_sequences=G, **hf_args)
                tokens += generated_tokens(out, enc.input_ids.shape[1])
        return tokens

    torch.manual_seed(SEED)
    results = {}
    for name, fn in (("s2lpo", ours), ("baseline", one_at_a_time), ("hf_per_prompt", per_prompt_batch)):
        tokens, seconds = _timed(fn)
        results[name] = tokens / seconds
        print(f"{name:>14}: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:,.0f} tokens/s")
    ratio = results["s2lpo"] / results["baseline"]
    print(f"sampling: {PROMPTS} prompts x G={G}, {MAX_TOKENS} tokens, tiny target (random weights), "
          f"{torch.get_num_threads()} threads")
    print(f"s2lpo / one-at-a-time generate: {ratio:.1f}x (target >= {TARGET_RATIO:g}x) "
          f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; s2lpo / generate with num_return_sequences: "
          f"{results['s2lpo'] / results['hf_per_prompt']:.1f}x")
    return {"s2lpo_tokens_per_s": results["s2lpo"], "baseline_tokens_per_s": results["baseline"],
            "hf_per_prompt_tokens_per_s": results["hf_per_prompt"], "ratio": ratio,
            "passed": float(ratio >= TARGET_RATIO)}


if __name__ == "__main__":
    main()
