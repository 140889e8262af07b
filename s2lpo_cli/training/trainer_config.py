"""What the embedded trainer takes from a recipe, read once at its boundary (as `LossConfig.from_recipe`)."""

from __future__ import annotations

from dataclasses import dataclass

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.training.losses import LossConfig


@dataclass(frozen=True)
class TrainerConfig:
    prompts_per_step: int
    mini_batch: int  # prompts per optimizer update
    micro_batch: int  # responses per forward/backward (gradients accumulate over them)
    epochs: int
    lr: float
    weight_decay: float
    grad_clip: float
    seed: int  # prompt order, explorer draws and the target's sampling seeds
    norm_adv_by_std: bool
    anneal_steps: int  # N, for alpha_t in the metrics
    sampling: SamplingParams  # the live target's generation; n is set per step (G_s)
    loss: LossConfig

    @property
    def max_response_tokens(self) -> int:
        """Explorer responses are cut to it too."""
        return self.sampling.max_tokens

    @property
    def temperature(self) -> float:
        """Log-probs are taken at the sampling temperature, as verl does."""
        return self.sampling.temperature

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> TrainerConfig:
        o, r = recipe.optim, recipe.rollout
        return cls(
            prompts_per_step=o.prompts_per_step,
            mini_batch=o.mini_batch,
            micro_batch=o.micro_batch,
            epochs=o.epochs,
            lr=o.lr,
            weight_decay=o.weight_decay,
            grad_clip=o.grad_clip,
            seed=o.seed,
            norm_adv_by_std=o.norm_adv_by_std,
            anneal_steps=recipe.schedule.anneal_steps,
            sampling=r.sampling_params(),
            loss=LossConfig.from_recipe(recipe),
        )
