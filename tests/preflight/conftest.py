"""Fixtures of the preflight tests: a character tokenizer, a small training set and rollout stores written as
`s2lpo sample` writes them, so every check runs on real files without loading a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2lpo_cli.data.rows import Row, read_rows
from s2lpo_cli.recipe import Recipe, load_recipe

QUESTIONS = [f"What is {i} + {i}?" for i in range(8)]


class CharTokenizer:
    """A tokenizer whose token ids are the characters of the rendered chat: cheap and exact."""

    chat_template = "<role>content"
    all_special_tokens: list[str] = []

    def __init__(self, marker: str = ""):
        self.marker = marker  # another marker is another chat template: other ids for the same prompt

    def apply_chat_template(self, messages, tokenize, add_generation_prompt, enable_thinking):
        text = "".join(f"<{m['role']}>{m['content']}" for m in messages)
        return self.marker + text + ("<think>" if enable_thinking else "")

    def __call__(self, text, add_special_tokens=False, verbose=True):
        return {"input_ids": [ord(c) for c in text]}

    def get_vocab(self):
        return {"a": 0, "b": 1, self.marker: 2}


@pytest.fixture
def train_file(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "question": q, "answer": str(2 * i)}) + "\n"
                            for i, q in enumerate(QUESTIONS)))
    return path


def recipe_for(train_file: Path, store: Path | None, *sets: str) -> Recipe:
    """tiny.yaml at a size these tests can reason about: 4 steps of 4 prompts, G = 4, annealed over all 4 (G_w = 4, 3, 2, 0)."""
    return load_recipe("tiny", [
        f"data.train={train_file}", f"models.explorer_rollouts={store}", "optim.prompts_per_step=4",
        "optim.mini_batch=4", "optim.micro_batch=16", "rollout.group_size=4", "schedule.total_steps=4",
        "schedule.anneal_steps=4", "data.max_prompt_tokens=64", "validation.every=0", *sets,
    ])


def write_store(path: Path, tokenizer, questions: list[str], n: int, instruction: str = "Put the final answer in \\boxed{}.",
                tokenizer_hash: str | None = None, system: str | None = None) -> Path:
    """A finished rollout store: n responses to each question, prompts rendered by `tokenizer`.

    `tokenizer_hash` and `system` change the manifest only, as a store written by other code could.
    """
    from s2lpo_cli.data.rollout_store import RolloutStore
    from s2lpo_cli.prompting import build_messages, encode_prompt
    from s2lpo_cli.prompting import tokenizer_hash as hash_of

    store = RolloutStore.prepare(path, {"tokenizer_hash": tokenizer_hash or hash_of(tokenizer), "n_per_prompt": n,
                                        "prompt": {"instruction": instruction, "system": system, "enable_thinking": False}})
    records = [
        {"prompt_id": Row(id="", question=q, answer="").prompt_id, "question": q, "ground_truth": "0",
         "data_source": "test", "prompt_token_ids": encode_prompt(tokenizer, build_messages(q, instruction), False),
         "response_index": i, "response_text": "\\boxed{0}", "response_token_ids": [1, 2], "response_logprobs": [-0.1, -0.2],
         "finish_reason": "stop", "reward": 0.0, "extracted_answer": "0", "grade_status": "ok"}
        for q in questions for i in range(n)
    ]
    store.write_shard(0, records)
    store.finish({"responses": len(records)})
    return path


@pytest.fixture
def tiny_questions(tiny_models) -> list[str]:
    """The questions of the 12 training rows `tiny_recipe` uses."""
    return [r.question for r in read_rows(tiny_models / "data" / "train.jsonl", limit=12)]


def tiny_recipe(tiny_models: Path, store: Path, run_dir: Path, *sets: str):
    """recipes/tiny.yaml on the tiny models: 8 steps of 8 of 12 prompts, G = 8, annealed over 4 steps."""
    return load_recipe("tiny", [
        f"models.target={tiny_models / 'target'}", f"models.explorer={tiny_models / 'explorer'}",
        f"models.explorer_rollouts={store}", f"output.run_dir={run_dir}",
        f"data.train={tiny_models / 'data' / 'train.jsonl'}", "data.limit=12", "schedule.total_steps=8",
        "schedule.anneal_steps=4", "optim.prompts_per_step=8", "optim.mini_batch=8", "optim.micro_batch=32",
        "validation.every=0", *sets,
    ])


def on_verl(recipe: Recipe) -> Recipe:
    """The same recipe on verl with one GPU."""
    return recipe.model_copy(update={"engine": recipe.engine.model_copy(update={
        "kind": "verl", "gpus_per_node": 1, "tensor_parallel_size": 1})})
