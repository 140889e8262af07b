"""Held-out accuracy of a tiny model: sample one answer per question, compare its \\boxed{} to the gold.

The synthetic answers are integers, so an exact match of the extracted answer is the right check here;
the full grader (math-verify) is for real benchmarks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from s2lpo_cli.grading.extract import extract_answer
from s2lpo_cli.prompting import build_messages, render_prompt
from s2lpo_cli.tiny.task import TINY_INSTRUCTION, Problem


def sample_responses(
    model: Any,
    tokenizer: Any,
    questions: Sequence[str],
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 32,
    seed: int = 0,
    batch_size: int = 128,
    instruction: str = TINY_INSTRUCTION,
    enable_thinking: bool = False,
) -> list[str]:
    """One response per question (temperature 0: greedy), decoded without special tokens."""
    import torch

    torch.manual_seed(seed)
    texts = [render_prompt(tokenizer, build_messages(q, instruction), enable_thinking) for q in questions]
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if temperature > 0
        else {"do_sample": False}
    )
    out: list[str] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,
        )
        with torch.no_grad():
            generated = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
        out.extend(tokenizer.batch_decode(generated[:, enc.input_ids.shape[1] :], skip_special_tokens=True))
    return out


def is_correct(response: str, gold: str) -> bool:
    answer = extract_answer(response)
    return answer is not None and answer.replace(" ", "") == gold


def accuracy_by_family(
    model: Any, tokenizer: Any, problems: Sequence[Problem], **sampling: Any
) -> dict[str, float]:
    """Share of problems answered right, per family and overall ("all")."""
    responses = sample_responses(model, tokenizer, [p.question for p in problems], **sampling)
    right: dict[str, list[bool]] = defaultdict(list)
    for problem, response in zip(problems, responses, strict=True):
        ok = is_correct(response, problem.answer)
        right[problem.family].append(ok)
        right["all"].append(ok)
    return {family: sum(oks) / len(oks) for family, oks in sorted(right.items())}
