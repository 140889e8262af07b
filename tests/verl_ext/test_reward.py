"""The reward module, loaded and called by verl's own reward manager, gives the grader's verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides

from .conftest import compose_verl, tiny_verl_recipe

pytestmark = [pytest.mark.verl, pytest.mark.slow]

CASES = [  # (response, gold)
    ("So the sum is \\boxed{89}.", "89"),
    ("I get \\boxed{88}.", "89"),
    ("The answer is 89 but I will not box it.", "89"),
    ("Half: \\boxed{\\frac{1}{2}}", "0.5"),
    ("x = \\boxed{-4}", "-4"),
]


def test_verl_reward_manager_returns_the_graders_verdicts(tiny_models, tmp_path):
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.trainer.ppo.reward import load_reward_manager

    from s2lpo_cli.grading.grader import Grader

    recipe = tiny_verl_recipe(tiny_models, tmp_path)
    config = compose_verl(verl_overrides(recipe, VerlPaths.for_run(tmp_path)))
    tokenizer = AutoTokenizer.from_pretrained(tiny_models / "target")
    manager = load_reward_manager(config, tokenizer)  # imports pkg://s2lpo_cli.verl_ext.reward as verl does
    scores = []
    for response, gold in CASES:
        prompt = tokenizer("What is it?", return_tensors="pt")["input_ids"]
        ids = tokenizer(response, return_tensors="pt")["input_ids"]
        data = DataProto.from_dict(
            tensors={"prompts": prompt, "responses": ids,
                     "attention_mask": torch.ones(1, prompt.shape[1] + ids.shape[1], dtype=torch.long)},
            non_tensors={"data_source": np.array(["synthetic"], dtype=object),
                         "reward_model": np.array([{"style": "rule", "ground_truth": gold}], dtype=object),
                         "extra_info": np.array([{"index": 0}], dtype=object)},
        )
        result = manager.loop.run_until_complete(manager.run_single(data))
        scores.append(result["reward_score"])
        assert set(result["reward_extra_info"]) == {"score", "acc", "no_answer"}
    with Grader(workers=1) as grader:
        verdicts = grader.grade(CASES)
    assert scores == [1.0 if v.correct else 0.0 for v in verdicts]
    assert scores[:3] == [1.0, 0.0, 0.0]
