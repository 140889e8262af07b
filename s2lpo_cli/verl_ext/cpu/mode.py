"""CPU mode of the verl engine: what s2lpo registers in every verl process of a CPU run, and why.

verl loads this module in each of its processes (driver, TaskRunner, workers, agent-loop and reward
workers), right after `platform` (which registers the "cpu" platform), because the run sets
`VERL_USE_EXTERNAL_MODULES` and `VERL_PLATFORM=cpu` (`settings.cpu_env`). Importing it registers,
through verl's extension points:
  - verl's FSDP engine for device "cpu" (`CPUFSDPEngineWithLMHead`), which verl registers for cuda/npu only;
  - the rollout `s2lpo_embedded` (`rollout.EmbeddedReplica` and its `EmbeddedServerAdapter`); verl's table of
    rollout adapters (`rollout.base._ROLLOUT_REGISTRY`) has no register function, so the entry is added to it.
Two patches of verl, both made here and only when this module is loaded (CPU mode):
  1. `ActorRolloutRefWorker.actor_worker_cls/ref_worker_cls` become `CPUTrainingWorker`, which starts a
     plain gloo process group first: verl's TrainingWorker asks torch for "cpu:gloo,{device}:{backend}",
     which on CPU is "cpu:gloo,cpu:gloo" and torch refuses a duplicate device type.
  2. The forward-only (reference) FSDP2 engine's `CPUOffloadPolicy(pin_memory=True)` is built with
     pin_memory=False while the CPU engine wraps its module: CPU-only torch cannot pin memory.
"""

from __future__ import annotations

import contextlib

from verl.workers import engine_workers
from verl.workers.engine import EngineRegistry
from verl.workers.engine.fsdp import transformer_impl
from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead
from verl.workers.rollout import base as rollout_base
from verl.workers.rollout.replica import RolloutReplicaRegistry

from s2lpo_cli.verl_ext.cpu.settings import ROLLOUT_NAME


@contextlib.contextmanager
def _unpinned_offload_policy():
    """verl's FSDP2 wrapper builds CPUOffloadPolicy(pin_memory=True) for the reference model (patch 2)."""
    original = transformer_impl.CPUOffloadPolicy

    class UnpinnedOffloadPolicy(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "pin_memory": False})

    transformer_impl.CPUOffloadPolicy = UnpinnedOffloadPolicy
    try:
        yield
    finally:
        transformer_impl.CPUOffloadPolicy = original


@EngineRegistry.register(model_type="language_model", backend=["fsdp", "fsdp2"], device="cpu")
class CPUFSDPEngineWithLMHead(FSDPEngineWithLMHead):
    """verl's FSDP engine for a causal LM, on the CPU device with gloo."""

    def _build_fsdp_module(self, module):
        with _unpinned_offload_policy():
            return super()._build_fsdp_module(module)


class CPUTrainingWorker(engine_workers.TrainingWorker):
    """verl's TrainingWorker, in a process group of gloo alone (patch 1)."""

    def __init__(self, config):
        engine_workers.initialize_global_process_group_ray(timeout_second=None, backend="cpu:gloo")
        super().__init__(config)


engine_workers.ActorRolloutRefWorker.actor_worker_cls = CPUTrainingWorker
engine_workers.ActorRolloutRefWorker.ref_worker_cls = CPUTrainingWorker
def _load_replica():
    """Imported on first use: `rollout` imports verl, whose import of this module must not come back to it."""
    from s2lpo_cli.verl_ext.cpu.rollout import EmbeddedReplica

    return EmbeddedReplica


RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
rollout_base._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = "s2lpo_cli.verl_ext.cpu.rollout.EmbeddedServerAdapter"
