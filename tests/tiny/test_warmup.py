"""The supervised warm-up: loss only on the response, and a few steps lower it."""

import pytest

from s2lpo_cli.prompting import build_messages, render_prompt
from s2lpo_cli.tiny import task
from s2lpo_cli.tiny.models import EXPLORER_SIZE, new_model
from s2lpo_cli.tiny.tokenizer import train_tokenizer
from s2lpo_cli.tiny.warmup import WarmupPlan, _batch, encode_example, warm_up


@pytest.fixture(scope="module")
def tok():
    every = [p for f in task.FAMILIES for p in task.family_problems(f)]
    return train_tokenizer([p.question for p in every] + [p.response() for p in every])


def test_example_is_the_rendered_prompt_then_the_response(tok):
    problem = task.problems(0, "train", 1)[0]
    prompt, response = encode_example(tok, problem, task.TINY_INSTRUCTION, thinking=False)
    assert tok.decode(prompt) == render_prompt(
        tok, build_messages(problem.question, task.TINY_INSTRUCTION), False
    )
    assert tok.decode(response) == problem.response() + "<|im_end|>"


def test_only_response_tokens_carry_loss(tok):
    examples = [
        encode_example(tok, p, task.TINY_INSTRUCTION, thinking=i == 1)
        for i, p in enumerate(task.problems(0, "train", 2))
    ]
    batch = _batch(examples, tok.pad_token_id)
    for row, (prompt, response) in enumerate(examples):
        labels = batch["labels"][row].tolist()
        assert labels[len(prompt) : len(prompt) + len(response)] == response
        assert all(x == -100 for x in labels[: len(prompt)] + labels[len(prompt) + len(response) :])
        assert batch["attention_mask"][row].sum().item() == len(prompt) + len(response)


def test_a_few_steps_lower_the_loss(tok):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: what the build does too
    try:
        _lower_the_loss(tok)
    finally:
        torch.set_num_threads(threads)


def _lower_the_loss(tok):
    model = new_model(EXPLORER_SIZE, tok, seed=0)
    pools = {f: task.family_problems(f)[:50] for f in task.FAMILIES}
    losses = warm_up(model, tok, pools, WarmupPlan(steps=12, batch_size=16), seed=0)
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < losses[0] * 0.7
