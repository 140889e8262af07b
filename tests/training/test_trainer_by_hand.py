"""The embedded trainer against values computed by hand.

The other trainer tests compare two code paths (micro-batch vs full batch, killed-and-resumed vs
uninterrupted); a bug both paths share passes them. These pin what a step must compute: which gold
each response is graded against, which rows carry importance weights, which policy's log-probs
are "old", what an update's loss and statistics are, and that the entropy bonus has a gradient.
"""

import math
import random

import pytest
import torch

from s2lpo_cli.data.rollout_store import StoredResponse
from s2lpo_cli.engines.base import Completion, PromptOutput
from s2lpo_cli.grading.grader import Grader
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.schedule import PhysicalStep, step_plan
from s2lpo_cli.training import trainer as trainer_module
from s2lpo_cli.training.advantages import grpo_advantages
from s2lpo_cli.training.assembly import ExplorerPool, Response, prompt_batch
from s2lpo_cli.training.metrics import METRIC_KEYS
from s2lpo_cli.training.trainer import Prompt, Trainer
from s2lpo_cli.training.trainer_config import TrainerConfig


def _config(*sets):
    return TrainerConfig.from_recipe(load_recipe("tiny", ["optim.micro_batch=64", *sets]))


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def _record_loss_calls(monkeypatch) -> list[dict]:
    """Every ppo_loss call of the trainer: its inputs and the weights it applied, detached."""
    calls = []
    real = trainer_module.ppo_loss

    def spy(cfg, logp, old_logp, advantages, mask, **kw):
        terms = real(cfg, logp, old_logp, advantages, mask, **kw)
        calls.append({"logp": logp.detach().clone(), "old": old_logp.detach().clone(), "mask": mask.clone(),
                      "weights": None if terms.weights is None else terms.weights.clone(),
                      "clipped": terms.clipped.clone(), "total": float(terms.total.detach())})
        return terms

    monkeypatch.setattr(trainer_module, "ppo_loss", spy)
    return calls


def _update(trainer, responses, n_groups):
    adv = grpo_advantages(torch.tensor([r.reward for r in responses]), [r.group for r in responses]).advantages
    return trainer._update(responses, adv, n_groups)


# ---------------------------------------------------------------------- the gold of each group


class _AnswersEngine:
    """Answers each prompt with its own gold first, then with a number no prompt has as its gold."""

    def __init__(self, tok, golds: dict[tuple[int, ...], str]):
        self.tok, self.golds, self.pad_id = tok, golds, tok.pad_token_id
        self.asked: list[tuple[list[list[int]], list[int]]] = []  # (prompts, seeds) of each call

    def generate_from_ids(self, prompt_ids, params, seeds):
        self.asked.append(([list(ids) for ids in prompt_ids], list(seeds)))
        out = []
        for ids in prompt_ids:
            texts = [f"\\boxed{{{self.golds[tuple(ids)]}}}"] + ["\\boxed{100}"] * (params.n - 1)
            out.append(PromptOutput(list(ids), [Completion(t, _ids(self.tok, t), [], "stop") for t in texts]))
        return out


@pytest.mark.parametrize("norm_by_std", [True, False])
def test_each_group_is_graded_against_its_own_prompts_gold(lm, norm_by_std):
    load, tok = lm
    config = _config("optim.prompts_per_step=2", "optim.mini_batch=2", "optim.seed=1",
                     f"optim.norm_adv_by_std={str(norm_by_std).lower()}")
    golds = ["3", "5", "11", "13"]
    prompts = [Prompt(f"p{i}", g, _ids(tok, f"What is {g} + 0?")) for i, g in enumerate(golds)]
    batch = prompt_batch(1, len(prompts), 2, seed=1)
    assert batch == [3, 2]  # no group's position is its prompt's index in the training set
    model = load()
    engine = _AnswersEngine(tok, {tuple(p.token_ids): p.answer for p in prompts})
    with Grader(workers=1) as grader:
        trainer = Trainer(config, model, tok, prompts, grader, engine=engine)
        m = trainer.step(1, PhysicalStep(step=2, phase="mixed", explorer=0, target=2))
    # the step's prompts in the batch's order, each group seeded by (recipe seed, step index, group)
    seeds = [random.Random(f"gen:1:1:{g}").getrandbits(48) for g in (0, 1)]
    assert engine.asked == [([prompts[3].token_ids, prompts[2].token_ids], seeds)]
    # each group: its own gold (reward 1) and 100 (reward 0)
    assert (m["reward_target"], m["reward_mean"], m["accuracy"], m["zero_var_frac"]) == (0.5, 0.5, 0.5, 0.0)
    # advantages +-0.5 / std([1, 0]) = +-1/sqrt(2) in both groups: their sample std over 4 is sqrt(2/3);
    # without the std (Dr. GRPO) +-0.5: sqrt(1/3)
    assert m["adv_mean"] == pytest.approx(0.0, abs=1e-6)
    assert m["adv_std"] == pytest.approx(math.sqrt(2 / 3 if norm_by_std else 1 / 3), rel=1e-5)


@pytest.mark.parametrize(("n", "adv_std"), [(1, 0.0), (2, 1.0)])
def test_a_steps_metrics_by_hand(lm, n, adv_std):
    """One prompt, n target responses (split mode's target phase can leave G_s = 1)."""
    load, tok = lm
    config = _config("optim.prompts_per_step=1", "optim.mini_batch=1", "optim.lr=3e-4")
    prompt = Prompt("p", "7", _ids(tok, "What is 7 + 0?"))
    engine = _AnswersEngine(tok, {tuple(prompt.token_ids): "7"})
    trainer = Trainer(config, load(), tok, [prompt], grader=_Verdicts(), engine=engine)
    m = trainer.step(0, PhysicalStep(step=5, phase="target", explorer=0, target=n))
    lengths = [len(_ids(tok, t)) for t in ["\\boxed{7}", "\\boxed{100}"][:n]]
    assert set(m) == set(METRIC_KEYS) - {"time_validation_s"}  # the run loop adds the validation time
    assert m["nonzero_adv_frac_by_family"] is None  # the prompt carries no family
    assert (m["g_w"], m["g_s"], m["reward_explorer"], m["lr"]) == (0, n, None, 3e-4)
    # one response: no spread, std 0 (not nan); two, rewards [1, 0]: advantages +-1/sqrt(2), std 1
    assert m["adv_std"] == pytest.approx(adv_std, abs=1e-5) and m["zero_var_frac"] == (1.0 if n == 1 else 0.0)
    assert (m["target_tokens"], m["response_len"]) == (sum(lengths), pytest.approx(sum(lengths) / n))
    parts = m["time_generation_s"] + m["time_grading_s"] + m["time_update_s"]
    assert min(m["time_generation_s"], m["time_grading_s"], m["time_update_s"]) >= 0
    assert parts == pytest.approx(m["step_time_s"], rel=1e-6)
    assert m["tokens_per_s"] == pytest.approx(sum(lengths) / m["step_time_s"], rel=1e-6)


class _Verdicts:
    """A grader that compares boxed integers itself: no worker processes."""

    def grade(self, pairs):
        from types import SimpleNamespace

        return [SimpleNamespace(correct=text == f"\\boxed{{{gold}}}") for text, gold in pairs]


def test_groups_with_signal_are_counted_by_their_own_prompts_family(lm):
    """Four groups, two families: both add prompts answered right once (signal), both chain prompts never."""
    load, tok = lm
    config = _config("optim.prompts_per_step=4", "optim.mini_batch=4", "optim.seed=0")
    golds, families = ["3", "5", "11", "13"], ["add", "add", "chain", "chain"]
    prompts = [Prompt(f"p{i}", g, _ids(tok, f"What is {g} + 0?"), family=f)
               for i, (g, f) in enumerate(zip(golds, families, strict=True))]
    assert prompt_batch(0, 4, 4, seed=0) == [2, 1, 0, 3]  # group g is not prompt g
    answers = {tuple(p.token_ids): p.answer if p.family == "add" else "99" for p in prompts}
    trainer = Trainer(config, load(), tok, prompts, grader=_Verdicts(), engine=_AnswersEngine(tok, answers))
    m = trainer.step(0, PhysicalStep(step=1, phase="mixed", explorer=0, target=2))
    # family looked up by group position instead of prompt would give {"add": 0.5, "chain": 0.5}
    assert m["nonzero_adv_frac_by_family"] == {"add": 1.0, "chain": 0.0}
    assert m["zero_var_frac"] == 0.5


# ---------------------------------------------------------------------- truncated importance sampling


def _uniform(model):
    """A zero output layer: the policy is uniform, every token's log-prob is -log V."""
    with torch.no_grad():
        model.get_output_embeddings().weight.zero_()
    return -math.log(model.config.vocab_size)


# Per explorer token: log pi_target - log pi_explorer. Weights are exp(d), all below the threshold 2.
EXPLORER_GAPS = [[0.25, -0.5, 0.6], [0.1, -1.0], [0.4, 0.0, -0.2, 0.3]]


def _mixed_groups(tok, uniform_lp) -> list[Response]:
    """Two groups of explorer, explorer, target, target (the trainer's sorted order), EXPLORER_GAPS apart."""
    prompt = _ids(tok, "What is 2 + 2?")
    responses = []
    for group in range(2):
        for k in range(4):
            gaps = EXPLORER_GAPS[(group + k) % 3]
            ids = list(range(20, 20 + len(gaps)))
            if k < 2:
                lps = [uniform_lp - d for d in gaps]
                responses.append(Response(group, "explorer", prompt, ids, "", "stop", lps, reward=float(k % 2)))
            else:
                responses.append(Response(group, "target", prompt, ids, "", "stop", reward=float(k % 2)))
    return responses


def test_truncated_is_weights_only_explorer_tokens_with_the_hand_computed_ratio(lm, monkeypatch):
    load, tok = lm
    model = load()
    uniform_lp = _uniform(model)
    trainer = Trainer(_config("off_policy.correction=truncated_is", "off_policy.is_threshold=2.0"),
                      model, tok, [], grader=None)
    responses = _mixed_groups(tok, uniform_lp)
    calls = _record_loss_calls(monkeypatch)
    stats = _update(trainer, responses, n_groups=2)

    (call,) = calls
    explorer_weights = []
    for row, r in enumerate(responses):
        w = call["weights"][row, : len(r.token_ids)]
        if r.source == "target":
            assert torch.equal(w, torch.ones_like(w))
        else:
            gaps = EXPLORER_GAPS[(r.group + row % 4) % 3]
            assert w.tolist() == pytest.approx([math.exp(d) for d in gaps], rel=1e-5)
            explorer_weights += [math.exp(d) for d in gaps]
    assert stats["iw_max"] == pytest.approx(math.exp(0.6), rel=1e-5)
    assert stats["iw_mean"] == pytest.approx(sum(explorer_weights) / len(explorer_weights), rel=1e-5)


@pytest.mark.parametrize(("correction", "threshold"), [("none", 2.0), ("luffy", 2.0), ("truncated_is", 1.5)])
def test_importance_weight_metrics_are_the_ratios_the_correction_uses(lm, correction, threshold):
    """Without truncated IS the metrics show the raw ratio; with it, the truncated one (e^0.6 above 1.5)."""
    load, tok = lm
    model = load()
    responses = _mixed_groups(tok, _uniform(model))
    config = _config(f"off_policy.correction={correction}", f"off_policy.is_threshold={threshold}")
    stats = _update(Trainer(config, model, tok, [], grader=None), responses, n_groups=2)
    weights = [min(math.exp(d), threshold) for row, r in enumerate(responses)
               if r.source == "explorer" for d in EXPLORER_GAPS[(r.group + row % 4) % 3]]
    assert stats["iw_max"] == pytest.approx(max(weights), rel=1e-5)
    assert stats["iw_mean"] == pytest.approx(sum(weights) / len(weights), rel=1e-5)


def test_truncated_is_applies_at_step_1_where_every_response_is_the_explorers(lm, monkeypatch):
    load, tok = lm
    model = load()
    uniform_lp = _uniform(model)
    recipe = load_recipe("tiny", ["optim.prompts_per_step=1", "optim.mini_batch=1", "rollout.group_size=3",
                                  "schedule.anneal_steps=2", "schedule.total_steps=2",
                                  "off_policy.correction=truncated_is", "off_policy.is_threshold=2.0"])
    first = step_plan(recipe)[0]
    assert (first.explorer, first.target) == (3, 0)
    prompt = Prompt("p", "4", _ids(tok, "What is 2 + 2?"))
    stored = [StoredResponse("p", "", "4", "synthetic", prompt.token_ids, k, "", list(range(20, 20 + len(gaps))),
                             [uniform_lp - d for d in gaps], "stop", float(k % 2), None, "ok")
              for k, gaps in enumerate(EXPLORER_GAPS)]
    trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tok, [prompt], grader=None, explorer={"p": stored})
    calls = _record_loss_calls(monkeypatch)
    m = trainer.step(0, first)

    (call,) = calls
    assert call["weights"] is not None  # the loss was weighted, not only the metrics computed
    gaps_of_length = {len(gaps): gaps for gaps in EXPLORER_GAPS}  # the draw order is seeded: rows by length
    for row, mask in enumerate(call["mask"]):
        n = int(mask.sum())
        assert call["weights"][row, :n].tolist() == pytest.approx([math.exp(d) for d in gaps_of_length[n]], rel=1e-5)
    weights = [math.exp(d) for gaps in EXPLORER_GAPS for d in gaps]
    assert m["iw_max"] == pytest.approx(max(weights), rel=1e-5)
    assert m["iw_mean"] == pytest.approx(sum(weights) / len(weights), rel=1e-5)


def test_the_explorer_draws_follow_the_recipes_seed(lm):
    """The draw order is part of a run's state (resumes, verl's planned draws): seeded by optim.seed."""
    load, tok = lm
    trainer = Trainer(_config("optim.seed=5"), load(), tok, [], grader=None, explorer={"p": [None] * 8})
    assert trainer.pool.draw("p", 8) == ExplorerPool({"p": 8}, seed=5).draw("p", 8)
    assert ExplorerPool({"p": 8}, seed=5).draw("p", 8) != ExplorerPool({"p": 8}, seed=6).draw("p", 8)


# ---------------------------------------------------------------------- old log-probs


def _logprobs_by_hand(model, responses, temperature):
    """Each response alone through the plain transformers forward: no packing, no cache, no padding."""
    out = []
    with torch.no_grad():
        for r in responses:
            logits = model(input_ids=torch.tensor([r.prompt_ids + r.token_ids])).logits[0].float()
            start = len(r.prompt_ids) - 1
            lp = torch.log_softmax(logits[start : start + len(r.token_ids)] / temperature, dim=-1)
            out.append(lp.gather(-1, torch.tensor(r.token_ids)[:, None]).squeeze(-1))
    return out


def test_one_epoch_of_two_mini_batches_keeps_the_steps_starting_policy_as_old(lm, monkeypatch):
    load, tok = lm
    model = load()
    config = _config("optim.prompts_per_step=4", "optim.mini_batch=2", "optim.epochs=1", "optim.lr=1e-2")
    trainer = Trainer(config, model, tok, [], grader=None)
    g = torch.Generator().manual_seed(0)
    responses = []
    for group in range(4):
        prompt = _ids(tok, f"What is {group} + {group}?")
        for k in range(4):
            ids = torch.randint(10, 200, (6,), generator=g).tolist()
            responses.append(Response(group, "target", prompt, ids, "", "stop", reward=float((group + k) % 2)))
    before = _logprobs_by_hand(model.eval(), responses, config.temperature)
    calls = _record_loss_calls(monkeypatch)
    stats = _update(trainer, responses, n_groups=4)

    first, second = calls  # one update per mini-batch of 2 groups, each one micro-batch
    assert first["old"].shape[0] == second["old"].shape[0] == 8  # each group in one update only
    for call, rows in ((first, range(0, 8)), (second, range(8, 16))):
        for i, j in enumerate(rows):
            n = len(responses[j].token_ids)
            assert torch.allclose(call["old"][i, :n], before[j], atol=1e-5)
    moved = (second["logp"] - second["old"]).abs()[second["mask"].bool()]
    assert float(moved.max()) > 0.2  # the first update moved the policy: the second one's ratio is not 1
    assert stats["clip_frac"] > 0


def test_two_epochs_of_one_mini_batch_keep_the_steps_starting_policy_as_old(lm, monkeypatch):
    """At temperature 0.7, against a frozen copy of the starting model (for the KL metric)."""
    load, tok = lm
    model = load()
    config = _config("optim.prompts_per_step=2", "optim.mini_batch=2", "optim.epochs=2", "optim.micro_batch=4",
                     "optim.lr=1e-2", "rollout.temperature=0.7")
    trainer = Trainer(config, model, tok, [], grader=None, ref_model=load().eval())
    g = torch.Generator().manual_seed(1)
    responses = []
    for group in range(2):
        prompt = _ids(tok, f"What is {group} + 1?")
        for k in range(4):
            ids = torch.randint(10, 200, (4 + k,), generator=g).tolist()
            responses.append(Response(group, "target", prompt, ids, "", "stop", reward=float((group + k) % 2)))
    before = _logprobs_by_hand(model.eval(), responses, 0.7)
    calls = _record_loss_calls(monkeypatch)
    stats = _update(trainer, responses, n_groups=2)

    assert len(calls) == 4  # 2 epochs x 2 micro-batches of 4 responses
    for c, call in enumerate(calls):
        for i, r in enumerate(responses[4 * (c % 2) : 4 * (c % 2) + 4]):
            n = len(r.token_ids)
            assert torch.allclose(call["old"][i, :n], before[4 * (c % 2) + i], atol=1e-5)
            if c < 2:  # no optimizer step yet: the update's log-probs are the old ones, at the same temperature
                assert torch.allclose(call["logp"][i, :n], before[4 * (c % 2) + i], atol=1e-5)
    # clip_frac: clipped tokens over every token of every epoch; the second epoch's clipping counts
    clipped = [float((call["clipped"].float() * call["mask"]).sum()) for call in calls]
    assert clipped[:2] == [0.0, 0.0] and min(clipped[2:]) > 0
    tokens = sum(len(r.token_ids) for r in responses)
    assert stats["clip_frac"] == pytest.approx(sum(clipped) / (2 * tokens), rel=1e-6)
    # KL: k3 of the reference's log-probs (the starting policy's) against the last epoch's, per token of the step
    kl = 0.0
    for c, call in ((2, calls[2]), (3, calls[3])):
        for i, r in enumerate(responses[4 * (c % 2) : 4 * (c % 2) + 4]):
            log_ratio = before[4 * (c % 2) + i] - call["logp"][i, : len(r.token_ids)]
            kl += float((torch.exp(log_ratio) - log_ratio - 1).sum())
    assert kl > 0 and stats["kl"] == pytest.approx(kl / tokens, rel=1e-4)
    # the loss of an update is the sum of its micro-batches' totals; the metric is the mean over updates
    assert stats["loss"] == pytest.approx(sum(call["total"] for call in calls) / 2, rel=1e-6)


def test_one_updates_loss_entropy_and_clip_frac_by_hand(lm):
    """seq-mean-token-sum over two micro-batches, on the uniform policy, one update (ratio 1, no clipping)."""
    load, tok = lm
    model = load()
    uniform_lp = _uniform(model)
    config = _config("optim.prompts_per_step=1", "optim.mini_batch=1", "optim.micro_batch=2",
                     "optim.loss_agg=seq-mean-token-sum")
    trainer = Trainer(config, model, tok, [], grader=None)
    prompt = _ids(tok, "What is 1 + 1?")
    lengths, advantages = [3, 5, 2, 6], [1.0, -0.5, 0.25, -2.0]
    responses = [Response(0, "target", prompt, list(range(30, 30 + n)), "", "stop") for n in lengths]
    stats = trainer._update(responses, torch.tensor(advantages), 1)
    # each token's loss is -A (ratio 1, no clip); a sequence's is -A * length; the mean over the 4 sequences
    # of the mini-batch, not over each micro-batch's 2: -(3 - 2.5 + 0.5 - 12) / 4
    assert stats["loss"] == pytest.approx(11 / 4, rel=1e-6)
    assert stats["entropy"] == pytest.approx(-uniform_lp, rel=1e-6)  # log V on every token, padding left out
    assert stats["clip_frac"] == 0.0 and stats["kl"] is None


def test_the_entropy_bonus_raises_the_entropy(lm):
    """With zero advantages and no weight decay, the bonus is the only gradient of the update."""
    load, tok = lm
    model = load()
    config = _config("optim.prompts_per_step=1", "optim.mini_batch=1", "optim.entropy_coef=0.5",
                     "optim.weight_decay=0", "optim.lr=1e-4")
    trainer = Trainer(config, model, tok, [], grader=None)
    prompt = _ids(tok, "What is 1 + 1?")
    responses = [Response(0, "target", prompt, list(range(40, 46)), "", "stop") for _ in range(2)]
    ids = torch.tensor([prompt + responses[0].token_ids])

    def entropy():
        with torch.no_grad():
            log_p = torch.log_softmax(model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float(), dim=-1)
        return float(-(log_p.exp() * log_p).sum(-1).mean())

    before = entropy()
    trainer._update(responses, torch.zeros(2), 1)
    assert entropy() > before + 1e-4
    assert (trainer.optimizer.param_groups[0]["lr"], trainer.optimizer.param_groups[0]["weight_decay"]) == (1e-4, 0)
