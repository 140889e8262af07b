"""Sampling throughput: the embedded engine's batched sampling against Hugging Face `generate`.

The tiny target's architecture with random weights (so responses run to the length limit: fixed work),
the same prompts, G responses per prompt, MAX_TOKENS per response, temperature 1. Three ways to get them:
- s2lpo: `EmbeddedEngine.generate`, all prompts x G in one batch (KV cache, prefill shared by a prompt's G);
- baseline: one-prompt-at-a-time `model.generate`, one response per call (G calls per prompt);
- for reference: `model.generate` once per prompt with num_return_sequences=G.
One thread (tiny matrices: more threads only contend); one untimed warm-up call of each, then each way is
timed once. Target: s2lpo >= 3x the baseline's tokens/s.

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

    questions = [p.question for p in task.problems(SEED, "train", 200)]
    tokenizer = train_tokenizer(questions)
    return new_model(TARGET_SIZE, tokenizer, seed=SEED).eval(), tokenizer, questions[:PROMPTS]


def _contenders(model, tokenizer, questions):
    """The three ways, each a function returning the number of tokens it generated, and a warm-up."""
    import torch

    from s2lpo_cli.engines.base import SamplingParams
    from s2lpo_cli.engines.embedded import EmbeddedEngine
    from s2lpo_cli.prompting import build_messages, render_prompt
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION

    messages = [build_messages(q, TINY_INSTRUCTION) for q in questions]
    engine = EmbeddedEngine(model, tokenizer, max_batch_rows=PROMPTS * G)
    params = SamplingParams(n=G, temperature=1.0, max_tokens=MAX_TOKENS)
    encoded = [
        tokenizer(render_prompt(tokenizer, m, False), return_tensors="pt", add_special_tokens=False)
        for m in messages
    ]
    hf_args = {
        "do_sample": True,
        "temperature": 1.0,
        "top_k": 0,
        "top_p": 1.0,
        "max_new_tokens": MAX_TOKENS,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }

    def hf_tokens(out, prompt_len: int) -> int:
        return int((out[:, prompt_len:] != tokenizer.pad_token_id).cumprod(dim=1).sum())

    def s2lpo() -> int:
        outputs = engine.generate(messages, params, seeds=list(range(PROMPTS)))
        return sum(len(c.token_ids) for o in outputs for c in o.completions)

    @torch.inference_mode()
    def one_at_a_time() -> int:
        return sum(
            hf_tokens(model.generate(**enc, **hf_args), enc.input_ids.shape[1])
            for enc in encoded
            for _ in range(G)
        )

    @torch.inference_mode()
    def per_prompt() -> int:
        return sum(
            hf_tokens(model.generate(**enc, num_return_sequences=G, **hf_args), enc.input_ids.shape[1])
            for enc in encoded
        )

    def warm_up() -> None:
        engine.generate(messages[:1], params.with_(n=2), seeds=[0])
        model.generate(**encoded[0], **hf_args)

    return {"s2lpo": s2lpo, "baseline": one_at_a_time, "hf_per_prompt": per_prompt}, warm_up


def main() -> dict[str, float]:
    import torch

    model, tokenizer, questions = _tiny_target()
    contenders, warm_up = _contenders(model, tokenizer, questions)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        warm_up()
        torch.manual_seed(SEED)
        rates = {}
        for name, fn in contenders.items():
            start = time.perf_counter()
            tokens = fn()
            seconds = time.perf_counter() - start
            rates[name] = tokens / seconds
            print(f"{name:>14}: {tokens} tokens in {seconds:.2f} s = {rates[name]:,.0f} tokens/s")
    finally:
        torch.set_num_threads(threads)
    ratio = rates["s2lpo"] / rates["baseline"]
    print(f"sampling: {PROMPTS} prompts x G={G}, {MAX_TOKENS} tokens, tiny target (random weights), 1 thread")
    print(
        f"s2lpo / one-at-a-time generate: {ratio:.1f}x (target >= {TARGET_RATIO:g}x) "
        f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}; s2lpo / generate with num_return_sequences: "
        f"{rates['s2lpo'] / rates['hf_per_prompt']:.1f}x"
    )
    return {
        "s2lpo_tokens_per_s": rates["s2lpo"],
        "baseline_tokens_per_s": rates["baseline"],
        "hf_per_prompt_tokens_per_s": rates["hf_per_prompt"],
        "ratio": ratio,
        "passed": float(ratio >= TARGET_RATIO),
    }


if __name__ == "__main__":
    main()
