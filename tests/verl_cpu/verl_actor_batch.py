"""Run by test_actor_matches_embedded: one fixed batch through verl's actor engine (in this process, no Ray)
and through the embedded trainer's forward, loss and gradient; prints both sides' numbers as JSON.

Usage: python verl_actor_batch.py TARGET_MODEL_DIR   (CPU mode's environment is set here, before verl loads)
"""

import json
import os
import sys

from s2lpo_cli.verl_ext.cpu.settings import cpu_env

os.environ.update(cpu_env())
os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("XC_PORT", "29611"), "RANK": "0",
                   "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1", "RAY_LOCAL_WORLD_SIZE": "1"})

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

torch.set_num_threads(1)

QUESTIONS = [("What is 12 + 7?", " \\boxed{19}"), ("What is 3 * 4?", " 12, so \\boxed{12}"),
             ("Compute 9 - 5.", " \\boxed{4} done")]
ADVANTAGES = [1.0, -0.5, 0.3]  # one per response, as GRPO gives


def verl_actor(target: str):
    """verl's hybrid worker (actor role) built from the tiny_verl recipe's own overrides, as verl's trainer builds it."""
    from pathlib import Path

    import verl
    from verl.workers.engine_workers import ActorRolloutRefWorker

    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides

    recipe = load_recipe("tiny_verl")
    recipe = recipe.model_copy(update={"models": recipe.models.model_copy(update={"target": target}),
                                       "optim": recipe.optim.model_copy(update={"micro_batch": 8})})
    overrides = [o for o in verl_overrides(recipe, VerlPaths.for_run("/nonexistent"))
                 if not o.startswith(("hydra.", "++ray_kwargs"))]
    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=overrides)
    OmegaConf.resolve(config)
    worker = ActorRolloutRefWorker(config=config.actor_rollout_ref, role="actor")
    worker.init_model()
    return recipe, worker.actor


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from verl.utils import tensordict_utils as tu
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict
    from verl.workers.utils.padding import response_from_nested

    from s2lpo_cli.training.assembly import Response
    from s2lpo_cli.training.losses import LossConfig, ppo_loss
    from s2lpo_cli.training.policy_forward import forward, pack

    target = sys.argv[1]
    recipe, actor = verl_actor(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    rows = []
    for question, answer in QUESTIONS:
        prompt, response = tokenizer(question)["input_ids"], tokenizer(answer)["input_ids"]
        ids = torch.tensor(prompt + response)
        rows.append({"prompts": torch.tensor(prompt), "responses": torch.tensor(response), "input_ids": ids,
                     "position_ids": torch.arange(len(ids)), "response_mask": torch.ones(len(response), dtype=torch.int64),
                     "loss_mask": torch.ones(len(response), dtype=torch.int64)})
    n = len(rows)

    # old log-probs: verl's actor forward (as the trainer's _compute_old_log_prob) and the embedded forward
    data = list_of_dict_to_tensordict(rows)
    tu.assign_non_tensor(data, calculate_entropy=True, compute_loss=False, temperature=1.0, micro_batch_size_per_gpu=n)
    verl_out = actor.infer_batch(data)
    verl_old = response_from_nested(verl_out["log_probs"], data["response_mask"]).to_padded_tensor(0.0)

    model = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32)
    batch = pack([Response(group=i, source="target", prompt_ids=r["prompts"].tolist(), token_ids=r["responses"].tolist(),
                           text="", finish_reason="stop") for i, r in enumerate(rows)],
                 tokenizer.pad_token_id or 0, torch.device("cpu"))
    logp, _ = forward(model, batch)
    mask = batch.mask

    # one update on the same batch: old log-probs shifted off the policy so that the ratio clips
    shift = torch.linspace(-0.4, 0.4, logp.shape[1])[None, :] * torch.tensor([1.0, -1.0, 0.5])[:, None]
    old = (logp.detach() + shift) * mask
    advantages = torch.tensor(ADVANTAGES)[:, None] * mask
    terms = ppo_loss(LossConfig.from_recipe(recipe), logp, old, advantages, mask, num_tokens=mask.sum(), num_seqs=n)
    terms.total.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.optim.grad_clip)

    train = list_of_dict_to_tensordict([{**r, "old_log_probs": old[i, :len(r["responses"])].clone(),
                                         "advantages": advantages[i, :len(r["responses"])].clone()}
                                        for i, r in enumerate(rows)])
    tu.assign_non_tensor(train, calculate_entropy=False, temperature=1.0, micro_batch_size_per_gpu=n, mini_batch_size=n,
                         global_batch_size=n, epochs=1, seed=0, dataloader_kwargs={"shuffle": False})
    metrics = actor.train_mini_batch(train)["metrics"]
    print(json.dumps({
        "old_max_abs_diff": float(((logp.detach() - verl_old) * mask).abs().max()),
        "embedded": {"loss": float(terms.total), "grad_norm": float(norm),
                     "clip_frac": float((terms.clipped.float() * mask).sum() / mask.sum())},
        "verl": {"loss": float(metrics["actor/pg_loss"][0]), "grad_norm": float(metrics["grad_norm"][0]),
                 "clip_frac": float(metrics["actor/pg_clipfrac"][0])},
    }))


if __name__ == "__main__":
    main()
