"""The replay buffer verl's V1 trainer samples each step from: verl's sync buffer, holding every group to its plan.

verl 0.9's sync `ReplayBuffer` marks a prompt group `failure` when one of its agent-loop sessions
raises (an explorer response missing from the bank, the step guard) and still samples it with the
sessions that survived; it only raises when no group has any output. GRPO would then normalize a
group that lost its explorer slots over what is left, and nothing in the logs would show it.

In an s2lpo run every group of global step g holds exactly G_w explorer responses (sessions
0..G_w-1) and G_s target responses (sessions G_w..G_w+G_s-1) of `step_plan(recipe)[g - 1]`. This
buffer stops the run at the first failed group and refuses a sampled batch whose groups differ from
the plan; it adds each step's actual counts to verl's step metrics (`s2lpo/...`), computed from the
trajectories' tags, so target-only numbers do not mix in replayed explorer rows.

Registered with `trainer.v1.sampler.custom_sampler` (see `command.verl_overrides`); the schedule
arrives in `trainer.v1.sampler.sampler_kwargs`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

from s2lpo_cli.schedule import PhysicalStep, physical_steps


class GroupPlanError(RuntimeError):
    """A step's prompt groups are not what the S2L-PO schedule planned: training must not go on."""


def group_counts(keys: list[str], phys: PhysicalStep) -> dict[str, tuple[int, int, int]]:
    """uid -> (explorer sessions, target sessions, sessions outside the plan) among trajectory keys.

    verl names trajectories `{uid}_{session_id}_{index}`; an agent-loop session yields one trajectory.
    """
    sessions = {(uid, int(session)) for uid, session, _ in (key.rsplit("_", 2) for key in keys)}
    counts: dict[str, list[int]] = {}
    for uid, session in sessions:
        c = counts.setdefault(uid, [0, 0, 0])
        if session < phys.explorer:
            c[0] += 1
        elif session < phys.group_size:
            c[1] += 1
        else:
            c[2] += 1
    return {uid: (e, t, o) for uid, (e, t, o) in counts.items()}


def check_step(keys: list[str], tags: list[dict], phys: PhysicalStep, global_steps: int, prompts: int) -> dict[str, float]:
    """Raise GroupPlanError unless every group matches `phys`; else the step's per-source metrics."""
    counts = group_counts(keys, phys)
    wrong = {uid: c for uid, c in counts.items() if c != (phys.explorer, phys.target, 0)}
    if wrong or len(counts) != prompts:
        uid, (e, t, o) = next(iter(sorted(wrong.items()))) if wrong else ("-", (0, 0, 0))
        raise GroupPlanError(
            f"global step {global_steps} (logical step {phys.step}, {phys.phase}): the plan is {prompts} prompt "
            f"groups of {phys.explorer} explorer + {phys.target} target responses, verl sampled {len(counts)} "
            f"groups, {len(wrong)} of them off plan (e.g. uid {uid}: {e} explorer, {t} target, {o} other). "
            "An agent-loop session failed or produced no output; see the agent-loop worker log"
        )
    tokens: Counter = Counter()
    for key, tag in zip(keys, tags, strict=True):
        session = int(key.rsplit("_", 2)[1])
        tokens["explorer" if session < phys.explorer else "target"] += int(tag.get("response_len", 0))
    return {
        "s2lpo/groups": float(len(counts)),
        "s2lpo/explorer_per_group": float(phys.explorer),
        "s2lpo/target_per_group": float(phys.target),
        "s2lpo/explorer_responses": float(sum(c[0] for c in counts.values())),
        "s2lpo/target_responses": float(sum(c[1] for c in counts.values())),
        "s2lpo/explorer_response_tokens": float(tokens["explorer"]),
        "s2lpo/target_response_tokens": float(tokens["target"]),
    }


class PlannedGroupReplayBuffer(ReplayBuffer):
    """verl's sync ReplayBuffer that stops on a failed group and checks each batch against the schedule."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.sampler_kwargs
        self.plan = physical_steps(int(s["total_steps"]), int(s["anneal_steps"]), int(s["group_size"]), str(s["mode"]))

    def _terminal_eviction_reasons(self, global_steps: int, partition_id: str):
        failed = self.failure_keys[partition_id] if partition_id == "train" else set()
        if failed:
            raise GroupPlanError(
                f"global step {global_steps}: {len(failed)} prompt group(s) failed in the agent loop (e.g. uid "
                f"{sorted(failed)[0]}); verl would train on the sessions that survived, so a group would lose "
                "responses and GRPO would normalize over the rest. The cause is in the agent-loop worker log "
                "('Error in _run_prompt')"
            )
        return super()._terminal_eviction_reasons(global_steps, partition_id)

    def sample(self, global_steps: int, partition_id: str, batch_size: int):
        batch, metrics = super().sample(global_steps, partition_id, batch_size)
        if partition_id == "train":
            if not 1 <= global_steps <= len(self.plan):
                raise GroupPlanError(f"global step {global_steps} is outside the run's {len(self.plan)} steps")
            metrics.update(check_step(list(batch.keys), list(batch.tags), self.plan[global_steps - 1], global_steps,
                                      batch_size))
        return batch, metrics
