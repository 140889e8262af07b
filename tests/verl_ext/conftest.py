"""Fixtures of the verl extension tests: verl's own Hydra config, a tiny verl recipe, a tiny explorer store,
and an in-memory TransferQueue."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("verl")

from s2lpo_cli.data.rows import Row, read_rows  # noqa: E402
from s2lpo_cli.recipe import Recipe, load_recipe  # noqa: E402


def compose_verl(overrides: list[str]):
    """verl's ppo_trainer config with these overrides, composed by Hydra as `main_ppo` does."""
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def tiny_verl_recipe(tiny_models: Path, run_dir: Path, store: Path | None = None, *extra: str) -> Recipe:
    """recipes/tiny.yaml on verl with one GPU, pointed at the tiny models."""
    sets = [
        "engine.kind=verl", "engine.gpus_per_node=1", "engine.tensor_parallel_size=1",
        f"models.target={tiny_models / 'target'}", f"models.explorer={tiny_models / 'explorer'}",
        f"models.explorer_rollouts={store or run_dir / 'no_store'}", f"output.run_dir={run_dir}",
        f"data.train={tiny_models / 'data' / 'train.jsonl'}", "data.limit=12",
        # the sizes these tests assume (8 steps x 8 prompts), whatever recipes/tiny.yaml's demo uses
        "schedule.total_steps=8", "schedule.anneal_steps=4", "optim.prompts_per_step=8", "optim.mini_batch=8",
        "optim.micro_batch=32", f"validation.benchmarks=[{tiny_models / 'data' / 'heldout.jsonl'}]",
        "validation.limit=6", *extra,
    ]
    return load_recipe("tiny", sets)


def train_rows(tiny_models: Path, n: int = 12) -> list[Row]:
    return read_rows(tiny_models / "data" / "train.jsonl", limit=n)


def write_store(path: Path, tiny_models: Path, rows: list[Row], n_per_prompt: int, tokenizer_hash: str | None = None,
                instruction: str = "Put the final answer in \\boxed{}."):
    """A rollout store as `s2lpo sample` leaves it: n responses per prompt, token ids from the explorer's tokenizer."""
    from transformers import AutoTokenizer

    from s2lpo_cli.data.rollout_store import RolloutStore
    from s2lpo_cli.prompting import build_messages, render_prompt
    from s2lpo_cli.prompting import tokenizer_hash as hash_of

    tok = AutoTokenizer.from_pretrained(tiny_models / "explorer")
    store = RolloutStore.prepare(path, {"explorer": str(tiny_models / "explorer"),
                                        "tokenizer_hash": tokenizer_hash or hash_of(tok), "n_per_prompt": n_per_prompt,
                                        "prompt": {"instruction": instruction, "system": None, "enable_thinking": False}})
    records = []
    for row in rows:
        prompt_ids = tok(render_prompt(tok, build_messages(row.question, instruction), False),
                         add_special_tokens=False)["input_ids"]
        for i in range(n_per_prompt):
            text = f"Answer {i}: \\boxed{{{row.answer if i % 2 == 0 else 'wrong'}}}"
            ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            records.append({
                "prompt_id": row.prompt_id, "question": row.question, "ground_truth": row.answer,
                "data_source": "synthetic", "prompt_token_ids": prompt_ids, "response_index": i,
                "response_text": text, "response_token_ids": ids,
                "response_logprobs": [-0.01 * (i + 1) * (k + 1) for k in range(len(ids))],
                "finish_reason": "stop", "reward": float(i % 2 == 0), "extracted_answer": None, "grade_status": "ok",
            })
    store.write_shard(0, records)
    store.finish({"responses": len(records)})
    return store



class FakeTransferQueue:
    """TransferQueue as verl's trainer, agent-loop workers and replay buffer use it: partition -> {key: tag}.

    A put merges the new tag into the key's tag (a prompt's `is_prompt` survives its status updates).
    """

    def __init__(self) -> None:
        self.partitions: dict[str, dict[str, dict]] = {"train": {}}
        self.fields: dict[str, dict] = {}

    def init(self) -> None:
        pass

    def kv_list(self):
        return {p: dict(items) for p, items in self.partitions.items()}

    def kv_clear(self, partition_id, keys):
        for key in keys:
            self.partitions[partition_id].pop(key, None)

    def kv_batch_put(self, keys, partition_id, tags, fields=None):
        for key, tag in zip(keys, tags, strict=True):
            self.partitions.setdefault(partition_id, {}).setdefault(key, {}).update(tag)

    async def async_kv_put(self, key, partition_id, tag):
        self.kv_batch_put([key], partition_id, [tag])

    async def async_kv_batch_put(self, keys, fields, tags, partition_id):
        self.kv_batch_put(keys, partition_id, tags)
        for i, key in enumerate(keys):
            self.fields[key] = fields[i]

    def add_group(self, uid: str, global_steps: int, sessions, status: str = "finished") -> None:
        train = self.partitions["train"]
        train[uid] = {"is_prompt": True, "status": status, "global_steps": global_steps}
        for s in sessions:
            train[f"{uid}_{s}_0"] = {"status": "success", "response_len": 100 + s, "global_steps": global_steps}


def replay_buffer(cfg):
    """The replay buffer verl's trainer builds from this composed config."""
    from types import SimpleNamespace

    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    trainer = SimpleNamespace(config=cfg, trainer_mode=cfg.trainer.v1.trainer_mode, _add_prompts_to_generate=lambda n: None)
    trainer._resolve_filter_groups_metric = lambda: PPOTrainer._resolve_filter_groups_metric(trainer)
    return PPOTrainer._build_replay_buffer(trainer)


@pytest.fixture
def tq_store(monkeypatch) -> FakeTransferQueue:
    """A FakeTransferQueue in place of TransferQueue for verl's replay buffer and agent-loop workers."""
    from verl.trainer.ppo.v1 import agent_loop_tq
    from verl.trainer.ppo.v1 import replay_buffer as buffer_module

    fake = FakeTransferQueue()
    monkeypatch.setattr(buffer_module, "tq", fake)
    monkeypatch.setattr(agent_loop_tq, "tq", fake)
    return fake
