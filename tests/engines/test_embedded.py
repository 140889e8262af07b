import math

import pytest
import torch

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.engines.embedded import EmbeddedEngine, process_logits, sample_tokens

PROMPTS = [
    [{"role": "user", "content": "What is 12 + 7?"}],
    [{"role": "user", "content": "Solve 3x + 2 = 11 for x, and put the final answer in a box."}],
    [{"role": "user", "content": "hi"}],
]


@pytest.fixture(scope="module")
def engine(random_lm_dir):
    return EmbeddedEngine.load(str(random_lm_dir), device="cpu")


def _processed_logprobs(engine, prompt_ids, response_ids, params):
    """Teacher-forced log-probs of `response_ids` under vLLM's processing, from one full forward pass."""
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.inference_mode():
        logits = engine.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
    out = []
    for t, tok in enumerate(response_ids):
        seen = torch.zeros((1, logits.shape[-1]), dtype=torch.bool)
        seen[0, response_ids[:t]] = True
        processed = process_logits(logits[t : t + 1], params, seen)
        out.append(processed.log_softmax(-1)[0, tok].item())
    return out


def test_processing_follows_vllm_order_and_masks():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    top_p = process_logits(logits, SamplingParams(top_p=0.8), None).log_softmax(-1)
    # Sorted ascending, cumulative 0.05, 0.2, 0.5, 1.0: tokens whose cumulative mass is <= 1 - 0.8 go.
    assert torch.isinf(top_p[0, 2:]).all()
    assert top_p[0, :2].exp().tolist() == pytest.approx([0.5 / 0.8, 0.3 / 0.8], rel=1e-5)
    top_k = process_logits(logits, SamplingParams(top_k=3, temperature=0.5), None).log_softmax(-1)
    expected = torch.tensor([0.5, 0.3, 0.15]).pow(2)
    assert top_k[0, :3].exp().tolist() == pytest.approx((expected / expected.sum()).tolist(), rel=1e-5)
    assert math.isinf(top_k[0, 3].item())
    seen = torch.tensor([[True, False, False, False]])
    penalized = process_logits(logits, SamplingParams(presence_penalty=1.0, temperature=2.0), seen)
    assert penalized[0].tolist() == pytest.approx(((logits[0] - torch.tensor([1.0, 0, 0, 0])) / 2).tolist())


def test_draws_follow_the_processed_distribution():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    rows = 4000
    logits = probs.log().expand(rows, 4).clone()
    params = SamplingParams(top_p=0.9)  # keeps the three most likely tokens
    noise = torch.empty((rows, 4)).exponential_(generator=torch.Generator().manual_seed(0))
    tokens, logprobs = sample_tokens(process_logits(logits, params, None), params, noise)
    freq = torch.bincount(tokens, minlength=4).float() / rows
    kept = probs[:3] / probs[:3].sum()
    assert freq[3] == 0
    assert freq[:3].tolist() == pytest.approx(kept.tolist(), abs=0.03)
    assert logprobs.exp().tolist() == pytest.approx(kept[tokens].tolist(), rel=1e-5)


def test_logprobs_match_a_full_forward_pass_under_left_padding(engine):
    params = SamplingParams(n=2, temperature=0.8, top_p=0.95, top_k=50, presence_penalty=0.5, max_tokens=12)
    outputs = engine.generate(PROMPTS, params, seeds=[1, 2, 3])
    assert [len(o.completions) for o in outputs] == [2, 2, 2]
    for output in outputs:
        for c in output.completions:
            assert len(c.token_ids) == len(c.logprobs) <= 12
            expected = _processed_logprobs(engine, output.prompt_token_ids, c.token_ids, params)
            assert c.logprobs == pytest.approx(expected, abs=2e-4)
            assert c.finish_reason == ("stop" if c.token_ids[-1] in engine.stop_ids else "length")


def test_prompt_is_rendered_with_the_chat_template(engine):
    params = SamplingParams(max_tokens=2, enable_thinking=False)
    output = engine.generate(PROMPTS[:1], params, seeds=[0])[0]
    text = engine.tokenizer.decode(output.prompt_token_ids)
    assert text.startswith("<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n<|im_start|>assistant\n")
    assert text.endswith("<think>\n\n</think>\n\n")


def test_seeded_results_do_not_depend_on_the_batch(engine):
    params = SamplingParams(n=3, temperature=1.0, max_tokens=10)
    together = engine.generate(PROMPTS, params, seeds=[10, 20, 30])
    alone = engine.generate(PROMPTS[1:2], params, seeds=[20])[0]
    assert [c.token_ids for c in together[1].completions] == [c.token_ids for c in alone.completions]
    small = EmbeddedEngine(engine.model, engine.tokenizer, max_batch_rows=2)
    chunked = small.generate(PROMPTS, params, seeds=[10, 20, 30])
    assert [[c.token_ids for c in o.completions] for o in chunked] == [
        [c.token_ids for c in o.completions] for o in together
    ]
    again = engine.generate(PROMPTS, params, seeds=[10, 20, 30])
    assert [[c.token_ids for c in o.completions] for o in again] == [
        [c.token_ids for c in o.completions] for o in together
    ]
    # The k-th completion of seed s is the single completion of seed s + k (vLLM's rule for n > 1).
    shifted = engine.generate(PROMPTS[1:2], params.with_(n=1), seeds=[22])[0]
    assert shifted.completions[0].token_ids == alone.completions[2].token_ids
    other = engine.generate(PROMPTS[1:2], params, seeds=[21])[0]
    assert [c.token_ids for c in other.completions] != [c.token_ids for c in alone.completions]


def test_greedy_is_the_argmax_path(engine):
    params = SamplingParams(n=2, temperature=0.0, max_tokens=6)
    output = engine.generate(PROMPTS[:1], params, seeds=[0])[0]
    first, second = output.completions
    assert first.token_ids == second.token_ids
    ids = list(output.prompt_token_ids)
    for tok in first.token_ids:
        with torch.inference_mode():
            assert engine.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax().item() == tok
        ids.append(tok)


def test_stops_at_end_of_turn_and_hides_it_from_the_text(random_lm_dir):
    engine = EmbeddedEngine.load(str(random_lm_dir), device="cpu")
    im_end = engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in engine.stop_ids
    boost = torch.zeros(engine.model.config.vocab_size)
    boost[im_end] = 6.0  # makes <|im_end|> likely at every step
    engine.model.lm_head.register_forward_hook(lambda module, args, output: output + boost)
    outputs = engine.generate(PROMPTS, SamplingParams(n=4, max_tokens=8), seeds=[1, 2, 3])
    completions = [c for o in outputs for c in o.completions]
    assert any(c.finish_reason == "stop" for c in completions)
    for c in completions:
        assert (c.token_ids[-1] == im_end) == (c.finish_reason == "stop")
        assert im_end not in c.token_ids[:-1]
        assert "<|im_end|>" not in c.text
        if c.finish_reason == "length":
            assert len(c.token_ids) == 8


def test_live_model_keeps_its_training_mode(random_lm_dir):
    engine = EmbeddedEngine.load(str(random_lm_dir), device="cpu")
    engine.model.train()
    live = EmbeddedEngine(engine.model, engine.tokenizer)
    live.generate(PROMPTS[:1], SamplingParams(max_tokens=3), seeds=[0])
    assert engine.model.training


def test_max_tokens_and_context_limit(engine):
    short = engine.generate(PROMPTS[:1], SamplingParams(max_tokens=1, n=2), seeds=[0])[0]
    assert [len(c.token_ids) for c in short.completions] == [1, 1]
    limited = EmbeddedEngine(engine.model, engine.tokenizer)
    limited.max_positions = len(short.prompt_token_ids) + 3
    capped = limited.generate(PROMPTS[:1], SamplingParams(max_tokens=50), seeds=[0])[0].completions[0]
    assert len(capped.token_ids) <= 3
