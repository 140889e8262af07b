"""The verl agent loop that mixes stored explorer responses into each GRPO group.

verl's V1 trainer (`trainer.use_v1=true`, verl 0.9.1) starts one session per group slot, all under
the prompt's `uid`: as many as the row's `__rollout_n__` (the physical step's group, written by
`parquet.train_table`; `rollout.n = G` without it). It calls `run(sampling_params, **row)` with the
dataset row plus `session_id` (0..n-1) and `global_steps`. For the physical step that global step
runs (`schedule.step_plan`):
  - session_id < G_w: the stored explorer response planned for that slot (`extra_info.explorer`):
    prompt ids rendered by verl's own builder with the target's chat template, the stored response
    ids, a response mask of ones, and the explorer's log-probs as `rollout_log_probs`;
  - G_w <= session_id < G_w + G_s: verl's normal single-turn generation by the target;
  - beyond: an error (the row's `__rollout_n__` was not honoured), which stops the run through
    `sampler.PlannedGroupReplayBuffer`.
Every output of one prompt keeps its `uid`, so verl's GRPO advantage normalizes over the mixed group.

Registered through `actor_rollout_ref.rollout.agent.agent_loop_config_path` (see `agent_loop_config`);
the YAML entry's extra keys are the constructor's keyword arguments.
"""

from __future__ import annotations

import asyncio
from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from s2lpo_cli.schedule import PhysicalStep, physical_steps
from s2lpo_cli.verl_ext.explorer_bank import ExplorerBank


class ExplorerMixAgentLoop(SingleTurnAgentLoop):
    """Slots below G_w(step) replay the explorer; the others are the target's own samples."""

    def __init__(
        self,
        *args: Any,
        explorer_bank: str,
        group_size: int,
        anneal_steps: int,
        total_steps: int,
        mode: str,
        presence_penalty: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plan: list[PhysicalStep] = physical_steps(total_steps, anneal_steps, group_size, mode)
        self.explorer_bank = explorer_bank
        self.presence_penalty = presence_penalty

    def physical_step(self, global_steps: int) -> PhysicalStep:
        if not 1 <= global_steps <= len(self.plan):
            raise ValueError(f"global step {global_steps} is outside the run's {len(self.plan)} physical steps")
        return self.plan[global_steps - 1]

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        step = int(kwargs["global_steps"])
        slot = int(kwargs["session_id"])
        info = kwargs["extra_info"]
        if int(info["step"]) != step:
            raise RuntimeError(
                f"row {info['index']} was planned for global step {info['step']} but verl serves it at step {step}; "
                "the training parquet must be read in order (data.shuffle=false, one pass)"
            )
        phys = self.physical_step(step)
        if slot < phys.explorer:
            return await self._explorer_output(kwargs, info, slot, step)
        if slot < phys.explorer + phys.target:
            params = dict(sampling_params)
            if self.presence_penalty:
                params["presence_penalty"] = self.presence_penalty
            output = await super().run(params, **kwargs)
            output.extra_fields["s2lpo_source"] = "target"
            return output
        raise RuntimeError(
            f"row {info['index']}: session {slot} is beyond global step {step}'s group of {phys.group_size} "
            f"({phys.explorer} explorer + {phys.target} target); verl did not honour the row's __rollout_n__ "
            "(s2lpo needs verl 0.9.1's V1 agent-loop worker)"
        )

    async def _explorer_output(self, kwargs: dict, info: dict, slot: int, step: int) -> AgentLoopOutput:
        draws = list(info["explorer"])
        if slot >= len(draws):
            raise RuntimeError(f"row {info['index']} plans {len(draws)} explorer responses, slot {slot} needs more")
        ids, logprobs = await asyncio.to_thread(ExplorerBank.lookup, self.explorer_bank, info["prompt_id"],
                                                int(draws[slot]))
        prompt_ids = await self.ct_build_initial_tokens(list(kwargs["raw_prompt"]))
        n = min(len(ids), self.response_length)
        version = step - 1  # the weights version of this step's own samples: explorer rows are never "stale"
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=ids[:n],
            response_mask=[1] * n,
            response_logprobs=logprobs[:n],
            routed_experts=None,
            multi_modal_data={},  # the same fields as verl's single-turn outputs, so both kinds store alike
            mm_processor_kwargs=self._get_mm_processor_kwargs(None),
            mm_processor_output=None,
            num_turns=2,
            metrics=AgentLoopMetrics(),
            extra_fields={
                "turn_scores": [],
                "tool_rewards": [],
                "s2lpo_source": "explorer",
                "global_steps": version,
                "min_global_steps": version,
                "max_global_steps": version,
            },
        )

