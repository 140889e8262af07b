"""The embedded trainer's mechanics on a random tiny model: micro-batching, truncation, checkpoints."""

import pytest
import torch

from s2lpo_cli.data.rollout_store import StoredResponse
from s2lpo_cli.grading.grader import Grader
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.training.assembly import Response
from s2lpo_cli.training.checkpoint import TrainerState, latest_checkpoint, load_checkpoint, save_checkpoint
from s2lpo_cli.training.trainer import Prompt, Trainer
from s2lpo_cli.training.trainer_config import TrainerConfig


def _recipe(*sets):
    return load_recipe("tiny", ["optim.prompts_per_step=4", "optim.mini_batch=4", "rollout.group_size=4", *sets])


def _responses(tok, n_groups=4, per_group=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for group in range(n_groups):
        prompt = tok(f"What is {group} + {group}?", add_special_tokens=False)["input_ids"]
        for k in range(per_group):
            length = int(torch.randint(2, 9, (1,), generator=g))
            ids = torch.randint(10, 200, (length,), generator=g).tolist()
            source = "explorer" if k < 2 else "target"
            lps = (-torch.rand(length, generator=g) * 3).tolist() if source == "explorer" else None
            out.append(Response(group, source, prompt, ids, "", "stop", lps, reward=float((group + k) % 2)))
    return out


def _update(trainer, responses, n_groups=4):
    from s2lpo_cli.training.advantages import grpo_advantages

    adv = grpo_advantages(torch.tensor([r.reward for r in responses]), [r.group for r in responses]).advantages
    return trainer._update(responses, adv, n_groups)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("correction", ["none", "truncated_is", "luffy"])
def test_micro_batching_gives_the_same_update_as_one_batch(lm, correction):
    load, tok = lm
    results = []
    for micro in (3, 64):
        recipe = _recipe(f"optim.micro_batch={micro}", f"off_policy.correction={correction}",
                         "optim.entropy_coef=0.01")
        model = load()
        trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, [], grader=None)
        # Plain SGD makes the parameter change the (clipped) accumulated gradient itself.
        trainer.optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        stats = _update(trainer, _responses(tok))
        results.append((_params(model), stats))
    (p_small, s_small), (p_big, s_big) = results
    assert torch.allclose(p_small, p_big, atol=1e-6)
    assert s_small["loss"] == pytest.approx(s_big["loss"], rel=1e-4, abs=1e-7)
    assert s_small["entropy"] == pytest.approx(s_big["entropy"], rel=1e-5)
    assert s_small["iw_mean"] is not None and s_small["iw_max"] >= s_small["iw_mean"]
    if correction == "truncated_is":
        assert s_small["iw_max"] <= 2.0 + 1e-6


def test_update_moves_the_policy_towards_rewarded_responses(lm):
    load, tok = lm
    recipe = _recipe("optim.micro_batch=8", "optim.lr=1e-3")
    model = load()
    responses = _responses(tok, seed=1)
    trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, [], grader=None)
    before = [lp.sum().item() for lp in trainer._logprobs(model, responses)]
    stats = _update(trainer, responses)
    after = [lp.sum().item() for lp in trainer._logprobs(model, responses)]
    gain = [a - b for a, b in zip(after, before, strict=True)]
    rewarded = [g for g, r in zip(gain, responses, strict=True) if r.reward > 0]
    punished = [g for g, r in zip(gain, responses, strict=True) if r.reward == 0]
    assert sum(rewarded) / len(rewarded) > sum(punished) / len(punished)
    assert stats["grad_norm"] > 0 and stats["kl"] is None


def test_several_epochs_and_updates_recompute_old_logprobs_and_clip(lm):
    load, tok = lm
    recipe = _recipe("optim.micro_batch=8", "optim.lr=5e-3", "optim.epochs=3", "optim.mini_batch=2",
                     "optim.kl.enabled=true")
    model = load()
    ref = load().eval().requires_grad_(False)
    trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, [], grader=None, ref_model=ref)
    stats = _update(trainer, _responses(tok))
    assert stats["clip_frac"] > 0  # later passes see a policy that moved away from the old log-probs
    assert stats["kl"] > 0


def test_truncated_explorer_responses_are_rescored(lm):
    load, tok = lm
    recipe = _recipe("rollout.max_response_tokens=6", "schedule.anneal_steps=1", "schedule.total_steps=1")
    short = tok("\\boxed{4}", add_special_tokens=False)["input_ids"]
    long = tok("so the answer is \\boxed{4}", add_special_tokens=False)["input_ids"]
    assert len(short) <= 6 < len(long)

    def stored(ids, k):
        return StoredResponse("p", "What is 2 + 2?", "4", "synthetic", [1, 2], k, tok.decode(ids), ids,
                              [-0.1] * len(ids), "stop", 1.0, "4", "ok")

    prompts = [Prompt("p", "4", [1, 2])] * 4
    explorer = {"p": [stored(short, 0), stored(long, 1), stored(short, 2), stored(long, 3)]}
    with Grader(workers=1) as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), load(), tok, prompts, grader, explorer=explorer)
        responses = trainer._explorer_responses([0], 4)
        trainer._grade(responses, [0])
    by_len = {len(r.token_ids): r for r in responses}
    assert all(len(r.token_ids) <= 6 for r in responses)
    cut = [r for r in responses if r.regrade]
    assert len(cut) == 2 and all(r.reward == 0.0 and r.finish_reason == "length" for r in cut)
    assert by_len[len(short)].reward == 1.0
    assert all(len(r.explorer_logprobs) == len(r.token_ids) for r in responses)


@pytest.mark.parametrize("regrade", [False, True])
def test_a_store_graded_under_other_rules_is_graded_again(lm, regrade):
    """Stored rewards that the current rules would not give (0 for the gold, 1 for a wrong answer): kept as
    stored unless the trainer is told the store was graded under other rules."""
    load, tok = lm
    recipe = _recipe("schedule.anneal_steps=1", "schedule.total_steps=1")

    def stored(text, k, reward):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        return StoredResponse("p", "What is 2 + 2?", "4", "synthetic", [1, 2], k, text, ids,
                              [-0.1] * len(ids), "stop", reward, "", "ok")

    explorer = {"p": [stored("\\boxed{4}", 0, 0.0), stored("\\boxed{5}", 1, 1.0)]}
    with Grader(workers=1) as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), load(), tok, [Prompt("p", "4", [1, 2])], grader,
                          explorer=explorer, regrade_explorer=regrade)
        responses = trainer._explorer_responses([0], 2)
        trainer._grade(responses, [0])
    rewards = {r.text: r.reward for r in responses}
    assert rewards == ({"\\boxed{4}": 1.0, "\\boxed{5}": 0.0} if regrade else {"\\boxed{4}": 0.0, "\\boxed{5}": 1.0})


def test_checkpoint_round_trip_continues_identically(lm, tmp_path):
    load, tok = lm
    recipe = _recipe("optim.micro_batch=8", "optim.lr=1e-3")
    model = load()
    trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, [], grader=None)
    _update(trainer, _responses(tok, seed=2))
    trainer.pool.sizes["p"] = 5
    trainer.pool.draw("p", 3)
    save_checkpoint(tmp_path, model, tok, trainer.optimizer, TrainerState(3, 4, trainer.pool.state_dict()))
    folder = latest_checkpoint(tmp_path)
    assert folder.name == "step_0003" and (folder / "model.safetensors").is_file()
    assert (folder / "tokenizer.json").is_file() and (folder / "config.json").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))

    from transformers import AutoModelForCausalLM

    resumed = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    trainer2 = Trainer(TrainerConfig.from_recipe(recipe), resumed, tok, [], grader=None)
    state = load_checkpoint(folder, resumed, trainer2.optimizer)
    assert (state.step, state.physical_done, state.pool) == (3, 4, {"p": 3})
    next_batch = _responses(tok, seed=3)
    s1 = _update(trainer, next_batch)
    s2 = _update(trainer2, next_batch)
    assert torch.equal(_params(model), _params(resumed))
    assert s1 == s2


def test_split_mode_runs_explorer_then_target_steps(lm):
    from s2lpo_cli.schedule import step_plan

    load, tok = lm
    recipe = _recipe("schedule.mode=split", "schedule.anneal_steps=3", "schedule.total_steps=3",
                     "rollout.max_response_tokens=6", "optim.micro_batch=8")
    prompts = [Prompt(f"p{i}", str(i), tok(f"What is {i} + 0?", add_special_tokens=False)["input_ids"])
               for i in range(4)]

    def stored(p, k):
        text = f"\\boxed{{{p.answer}}}"
        ids = tok(text, add_special_tokens=False)["input_ids"]
        return StoredResponse(p.prompt_id, "", p.answer, "synthetic", p.token_ids, k, text, ids, [-0.5] * len(ids),
                              "stop", float(k % 2), p.answer, "ok")

    explorer = {p.prompt_id: [stored(p, k) for k in range(4)] for p in prompts}
    with Grader(workers=1) as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), load(), tok, prompts, grader, explorer=explorer)
        rows = [trainer.step(i, s) for i, s in enumerate(step_plan(recipe))]
    seen = [(m["step"], m["phase"], m["g_w"], m["g_s"]) for m in rows]
    assert seen == [(1, "explorer", 4, 0), (2, "explorer", 2, 0), (2, "target", 0, 2), (3, "target", 0, 4)]
    explorer_rows = [m for m in rows if m["phase"] == "explorer"]
    assert all(m["reward_target"] is None and m["target_tokens"] == 0 for m in explorer_rows)
    assert rows[0]["reward_explorer"] == 0.5 and rows[0]["zero_var_frac"] == 0.0  # stored rewards 0,1,0,1
    assert all(m["reward_explorer"] is None and m["target_tokens"] > 0 for m in rows if m["phase"] == "target")


def test_log_probs_are_those_of_the_tempered_policy_that_sampled(lm):
    """At rollout.temperature T the sampler draws from softmax(logits / T): the loss must use that policy."""
    from s2lpo_cli.training.policy_forward import forward, pack

    load, tok = lm
    model = load().eval()
    responses = _responses(tok, n_groups=2, per_group=2)
    batch = pack(responses, tok.pad_token_id, torch.device("cpu"))
    with torch.no_grad():
        plain, _ = forward(model, batch)
        hot, _ = forward(model, batch, temperature=2.0)
        for i, r in enumerate(responses):  # one sequence at a time, no padding, no cache: the reference
            logits = model(input_ids=torch.tensor([r.prompt_ids + r.token_ids])).logits[0]
            start = len(r.prompt_ids) - 1
            expected = torch.log_softmax(logits[start : start + len(r.token_ids)] / 2.0, dim=-1)
            expected = expected.gather(-1, torch.tensor(r.token_ids)[:, None]).squeeze(-1)
            assert torch.allclose(hot[i, : len(r.token_ids)], expected, atol=1e-4)
            assert not torch.allclose(plain[i, : len(r.token_ids)], expected, atol=1e-3)
