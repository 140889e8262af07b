"""The embedded engine's decoding speed-ups change no result: the Qwen3 decode steps run outside
transformers' forward, grouped attention without KV copies, the KV cache written in place, sampling noise
drawn in blocks. Each is compared with the straightforward path (transformers' forward with its sdpa and
its concatenating cache, one noise draw per row and step): the same tokens, and log-probs bit for bit
(the Qwen3 decoder's up to float rounding where transformers takes another attention path)."""

import pytest
import torch

from s2lpo_cli.engines import embedded, grouped_attention, kv_buffer, qwen3_stack
from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.engines.embedded import EmbeddedEngine

PROMPTS = [
    [{"role": "user", "content": "What is 12 + 7?"}],
    [{"role": "user", "content": "Solve 3x + 2 = 11 for x, and put the final answer in a box."}],
    [{"role": "user", "content": "hi"}],
]


class StepwiseNoise:
    """The reference noise: each row's generator draws one vocabulary-sized vector per step."""

    def __init__(self, generators, vocab, longest):
        self.generators, self.vocab = generators, vocab

    def at(self, step, rows):
        return torch.stack([torch.empty(self.vocab).exponential_(generator=self.generators[r]) for r in rows])


@pytest.fixture
def plain_engine(random_lm_dir, monkeypatch):
    """An engine on the straightforward path (built lazily, after the patches)."""

    def build(stop_share: float = 0.0):
        monkeypatch.setattr(grouped_attention, "use_grouped_attention", lambda model: None)
        monkeypatch.setattr(qwen3_stack, "supports", lambda model: False)
        monkeypatch.setattr(kv_buffer, "preallocate", lambda cache, capacity: cache)
        monkeypatch.setattr(embedded, "_Noise", StepwiseNoise)
        engine = EmbeddedEngine.load(str(random_lm_dir), device="cpu")
        assert engine.model.config._attn_implementation == "sdpa"
        _stop_often(engine, stop_share)
        return engine

    return build


def _stop_often(engine, share):
    """Makes a `share` of the vocabulary stop tokens, so rows finish at different steps (the decoder drops
    finished rows from its cache and mask)."""
    if share:
        vocab = engine.model.config.vocab_size
        engine.stop_ids.update(range(0, vocab, round(1 / share)))


def _completions(engine, params, seeds):
    return [[(c.token_ids, c.logprobs, c.finish_reason) for c in o.completions]
            for o in engine.generate(PROMPTS, params, seeds=seeds)]


def _tokens(completions):
    return [[(tokens, finish) for tokens, _, finish in prompt] for prompt in completions]


def _logprobs(completions):
    return [logprobs for prompt in completions for _, logprobs, _ in prompt]


@pytest.mark.parametrize("params,stop_share", [
    (SamplingParams(n=4, temperature=1.0, max_tokens=24), 0.0),
    (SamplingParams(n=3, temperature=0.7, top_p=0.9, top_k=40, presence_penalty=0.5, max_tokens=16), 0.1),
    (SamplingParams(n=2, temperature=0.0, max_tokens=12), 0.0),
])
@pytest.mark.parametrize("decode_steps", ["qwen3", "transformers"])
def test_fast_path_gives_the_straightforward_paths_tokens_and_logprobs(
    random_lm_dir, plain_engine, monkeypatch, params, stop_share, decode_steps
):
    fast = EmbeddedEngine.load(str(random_lm_dir), device="cpu")
    assert fast.model.config._attn_implementation == grouped_attention.NAME
    assert qwen3_stack.supports(fast.model)
    if decode_steps == "transformers":  # a model the Qwen3 decoder does not take: the in-place KV cache
        monkeypatch.setattr(qwen3_stack, "supports", lambda model: False)
    _stop_often(fast, stop_share)
    got = _completions(fast, params, [5, 6, 7])  # before plain_engine's patches
    expected = _completions(plain_engine(stop_share), params, [5, 6, 7])
    if decode_steps == "qwen3":
        # Bit-identical, except where transformers drops an all-ones mask (one row left, no padding) and
        # attends through its own repeat_kv path instead: float rounding (measured 2.4e-7) in the log-probs.
        assert _tokens(got) == _tokens(expected)
        for row, reference in zip(_logprobs(got), _logprobs(expected), strict=True):
            assert row == pytest.approx(reference, abs=1e-6)
        got, expected = _tokens(got), _tokens(expected)
    assert got == expected
    if stop_share:
        lengths = {len(completion[0]) for prompt in got for completion in prompt}
        assert len(lengths) > 2  # rows finished at different steps: the decoder dropped some mid-way


def test_noise_blocks_hold_each_generators_stream(monkeypatch):
    monkeypatch.setattr(embedded, "NOISE_BLOCK_BYTES", 3 * 4 * 10 * 3)  # blocks of 3 steps for 3 rows
    make = lambda: [torch.Generator().manual_seed(s) for s in (1, 2, 3)]  # noqa: E731
    blocked, stepwise = embedded._Noise(make(), 10, 8), StepwiseNoise(make(), 10, 8)
    assert blocked.block_steps == 3
    rows = [0, 1, 2]
    for step in range(8):
        if step == 4:
            rows = [0, 2]  # row 1 finished
        assert torch.equal(blocked.at(step, rows), stepwise.at(step, rows))


def test_vectorized_exponential_draws_are_torchs_own():
    make = lambda: [torch.Generator().manual_seed(s) for s in (11, 12)]  # noqa: E731
    expected = torch.stack([torch.empty((40, 500)).exponential_(generator=g) for g in make()])
    assert torch.equal(embedded._exponential(make(), (40, 500)), expected)


def test_grouped_attention_keeps_outputs_and_leaves_training_to_transformers(random_lm_dir):
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32)
    grouped = AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32)
    grouped_attention.use_grouped_attention(grouped)
    assert grouped.config.num_key_value_heads < grouped.config.num_attention_heads
    ids = torch.randint(5, 100, (3, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # left padding: the masked path
    with torch.inference_mode():
        assert torch.equal(plain(input_ids=ids, attention_mask=mask).logits,
                           grouped(input_ids=ids, attention_mask=mask).logits)
    for model in (plain, grouped):
        model(input_ids=ids, attention_mask=mask).logits.logsumexp(-1).sum().backward()
    for a, b in zip(plain.parameters(), grouped.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)


def test_saved_model_does_not_keep_the_attention_name(random_lm_dir, tmp_path):
    engine = EmbeddedEngine.load(str(random_lm_dir), device="cpu")
    engine.model.save_pretrained(tmp_path)
    assert grouped_attention.NAME not in (tmp_path / "config.json").read_text()
