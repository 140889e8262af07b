"""The fast training step against a straightforward reference kept here: every prompt + response run
as one full sequence (the update as it was before prompts were shared), and the engine's plain decoding
path. Generation is bit-identical; log-probs, gradients and metrics agree up to float rounding (the shared
prompt's gradient is summed over its responses in another order; the Qwen3 layers of engines/qwen3_stack.py
and a log-softmax round differently from transformers' modules and a logsumexp)."""

from dataclasses import dataclass

import pytest
import torch

from s2lpo_cli.engines import embedded, grouped_attention, kv_buffer, qwen3_stack
from s2lpo_cli.grading.grader import Grade
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.schedule import PhysicalStep
from s2lpo_cli.training import policy_forward
from s2lpo_cli.training import trainer as trainer_module
from s2lpo_cli.training.assembly import Response
from s2lpo_cli.training.losses import entropy_from_logits, token_logprobs
from s2lpo_cli.training.metrics import TIMING_KEYS
from s2lpo_cli.training.trainer import Prompt, Trainer
from s2lpo_cli.training.trainer_config import TrainerConfig


@dataclass
class FullBatch:
    input_ids: torch.Tensor  # (B, L) prompt + response, right-padded
    attention_mask: torch.Tensor
    positions: torch.Tensor  # (B, T) index of the logits that predict response token t
    targets: torch.Tensor
    mask: torch.Tensor


def full_pack(responses, pad_id, device):
    seqs = [r.prompt_ids + r.token_ids for r in responses]
    width, t_max = max(map(len, seqs)), max(len(r.token_ids) for r in responses)
    b = len(responses)
    batch = FullBatch(torch.full((b, width), pad_id), torch.zeros((b, width), dtype=torch.long),
                      torch.zeros((b, t_max), dtype=torch.long), torch.full((b, t_max), pad_id), torch.zeros((b, t_max)))
    for i, (r, s) in enumerate(zip(responses, seqs, strict=True)):
        n, p = len(r.token_ids), len(r.prompt_ids)
        batch.input_ids[i, : len(s)] = torch.tensor(s)
        batch.attention_mask[i, : len(s)] = 1
        batch.positions[i] = torch.arange(p - 1, p - 1 + t_max).clamp(max=width - 1)
        batch.targets[i, :n] = torch.tensor(r.token_ids, dtype=torch.long)
        batch.mask[i, :n] = 1.0
    return batch


def full_forward(model, batch, *, entropy=None, temperature=1.0):
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits
    logits = logits.gather(1, batch.positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])) / temperature
    logp = token_logprobs(logits, batch.targets)
    if entropy is None:
        return logp, None
    ent = entropy_from_logits(logits)
    return logp, ent.detach() if entropy == "metric" else ent


class StepwiseNoise:
    def __init__(self, generators, vocab, longest):
        self.generators, self.vocab = generators, vocab

    def at(self, step, rows):
        return torch.stack([torch.empty(self.vocab).exponential_(generator=self.generators[r]) for r in rows])


def use_reference_path(monkeypatch):
    monkeypatch.setattr(trainer_module, "pack", full_pack)
    monkeypatch.setattr(trainer_module, "forward", full_forward)
    monkeypatch.setattr(grouped_attention, "use_grouped_attention", lambda model: None)
    monkeypatch.setattr(qwen3_stack, "supports", lambda model: False)  # decoding and the training forward
    monkeypatch.setattr(kv_buffer, "preallocate", lambda cache, capacity: cache)
    monkeypatch.setattr(embedded, "_Noise", StepwiseNoise)


class ParityGrader:
    """Rewards a response whose text has an even length: varied rewards, so the policy gradient is not 0."""

    def grade(self, pairs):
        return [Grade(len(text) % 2 == 0, None, "ok") for text, _ in pairs]


def _responses(tok):
    g = torch.Generator().manual_seed(3)
    out = []
    for group in range(3):
        prompt = tok(f"What is {group} + {7 * group}?", add_special_tokens=False)["input_ids"]
        for k in range(5):
            length = [0, 1, 4, 9, 6][(group + k) % 5]  # empty and one-token responses included
            ids = torch.randint(10, 200, (length,), generator=g).tolist()
            if length == 9:
                ids[4] = tok.pad_token_id  # a sampled pad token: its embedding row gets no gradient from the lookup
            out.append(Response(group, "target", prompt, ids, "", "stop", None, reward=float(k % 2)))
    return out


@pytest.mark.parametrize("qwen3_layers", [True, False], ids=["qwen3-stack", "transformers"])
def test_shared_prompt_forward_matches_full_sequences(random_lm_dir, monkeypatch, qwen3_layers):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(random_lm_dir)
    responses = _responses(tok)
    assert tok.pad_token_id in [t for r in responses for t in r.token_ids]
    assert qwen3_stack.supports(AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32))
    if not qwen3_layers:
        monkeypatch.setattr(qwen3_stack, "supports", lambda model: False)
    results = []
    for pack, forward in ((policy_forward.pack, policy_forward.forward), (full_pack, full_forward)):
        model = AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32)
        batch = pack(responses, 0, torch.device("cpu"))
        logp, ent = forward(model, batch, entropy="grad")
        (logp * batch.mask).sum().add((ent * batch.mask).sum() * 0.1).backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results.append((logp.detach(), ent.detach(), batch.mask, grads))
    (lp, ent, mask, grads), (lp_ref, ent_ref, mask_ref, grads_ref) = results
    assert policy_forward.pack(responses, 0, torch.device("cpu")).prompt_ids.shape[0] == 3  # one row per prompt
    assert torch.equal(mask, mask_ref)
    assert torch.allclose(lp * mask, lp_ref * mask, atol=1e-5)
    assert torch.allclose(ent * mask, ent_ref * mask, atol=1e-5)
    assert torch.allclose(grads, grads_ref, atol=1e-5, rtol=1e-4)
    assert grads.abs().max() > 1e-2


def _run(random_lm_dir, sets, steps=2):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(random_lm_dir)
    recipe = load_recipe("tiny", ["optim.prompts_per_step=3", "optim.mini_batch=3", "rollout.group_size=4",
                                  "rollout.max_response_tokens=10", "optim.micro_batch=5", "optim.lr=1e-3",
                                  "schedule.anneal_steps=0", *sets])
    prompts = [Prompt(f"p{i}", "4", tok(f"What is {i} + {i}?", add_special_tokens=False)["input_ids"])
               for i in range(5)]
    model = AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(random_lm_dir, dtype=torch.float32).eval().requires_grad_(False)
    trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, prompts, ParityGrader(), ref_model=ref)
    metrics = [trainer.step(i, PhysicalStep(i + 1, "mixed", 0, 4)) for i in range(steps)]
    return [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in metrics]


@pytest.mark.parametrize("sets", [
    [],
    ["optim.epochs=2", "optim.mini_batch=1", "optim.kl.enabled=true", "optim.entropy_coef=0.01"],
])
def test_step_metrics_match_the_reference_path_for_a_fixed_seed(random_lm_dir, monkeypatch, sets):
    fast = _run(random_lm_dir, sets)
    with monkeypatch.context() as patch:
        use_reference_path(patch)
        reference = _run(random_lm_dir, sets)
    assert any(m["adv_std"] > 0 for m in fast)  # there was a policy gradient
    for got, expected in zip(fast, reference, strict=True):
        assert got.keys() == expected.keys()
        exact = {k: v for k, v in expected.items() if not isinstance(v, float)}
        assert {k: got[k] for k in exact} == exact
        for key in ("reward_mean", "accuracy", "zero_var_frac", "response_len", "adv_mean", "adv_std"):
            assert got[key] == expected[key], key  # same tokens generated, same rewards
        for key, value in expected.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
