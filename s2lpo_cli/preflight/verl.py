"""Checks of a verl run (engine.kind verl): options, verl's own config, GPUs, context, installed modules, data.

A check this machine cannot make (no GPUs, the model or the store is elsewhere, verl not installed)
is `not_checked`, so the command of any recipe can be inspected anywhere; `launch` refuses those too,
except GPUs a Ray job server counts when the job starts (`GPUS_AT_JOB_START`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.preflight.training_data import TrainingData, check_training_data
from s2lpo_cli.preflight.validation import check_validation
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.verl_ext.command import (
    REWARD_FUNCTION,
    REWARD_MODULE,
    VerlPaths,
    on_cpu,
    refused_overrides,
    save_every_problem,
    verl_overrides,
)

GPUS_AT_JOB_START = "gpus.at_job_start"
VERL_VERSIONS = ("0.9.1", "0.10")  # [lowest, first refused): pyproject's verl extra pins the same range

# ---------------------------------------------------------------- local models (never downloaded here)

TOKENIZER_FILES = ["config.json", "generation_config.json", "tokenizer*", "vocab*", "merges*", "*.jinja"]


def local_model_dir(model: str, download: bool = False) -> Path | None:
    """A local folder with `model`'s config and tokenizer: the path itself, or its Hugging Face snapshot.

    A dry run only looks in the cache; a launch fetches the small files of a hub id (verl fetches the weights).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download, try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(model, "config.json")
    if isinstance(cached, str):
        return Path(cached).parent
    if not download:
        return None
    try:
        return Path(snapshot_download(model, allow_patterns=TOKENIZER_FILES))
    except Exception:  # noqa: BLE001 - offline, unknown id: reported by the checks as not available
        return None


def model_context(model_dir: Path) -> int | None:
    config = json.loads((model_dir / "config.json").read_text())
    return config.get("max_position_embeddings")


# ---------------------------------------------------------------- the checks


def check_engine_options(recipe: Recipe) -> list[Finding]:
    findings = [Finding("verl.refused_override", "engine.overrides", m) for m in refused_overrides(recipe.engine.overrides)]
    problem = save_every_problem(recipe)
    if problem:
        findings.append(Finding("verl.save_every", "output.save_every", problem))
    if recipe.off_policy.correction == "luffy":
        findings.append(Finding("verl.no_luffy", "off_policy.correction",
                                "'luffy' (policy shaping) has no verl implementation; use 'truncated_is' "
                                "(verl's rollout correction) or 'none' with engine.kind verl"))
    return findings


def check_composes(overrides: list[str]) -> list[Finding]:
    """Compose the overrides against verl's own Hydra config and run verl's own config validation."""
    try:
        import verl
        from hydra import compose, initialize_config_dir
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:
        return [Finding("verl.not_installed", "verl", "not installed here: the command was not composed against its "
                        "config (pip install 's2lpo[verl]')", "not_checked")]
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            config = compose(config_name="ppo_trainer", overrides=overrides)
        # verl prints its verdict to stdout and warns that GRPO needs no critic: keep stdout for the command
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    except (HydraException, OmegaConfBaseException, AssertionError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Finding("verl.config", "engine.overrides",
                        f"verl's config refuses the command: {first} (check engine.overrides and the batch fields)")]
    return []


def cluster_gpus(address: str | None) -> tuple[int | None, str]:
    """GPUs of the Ray cluster at `address` (a GCS address), else of this machine; None when not countable."""
    if address is not None:
        try:
            import ray

            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            try:
                return int(ray.cluster_resources().get("GPU", 0)), f"the Ray cluster at {address}"
            finally:
                ray.shutdown()
        except Exception as exc:  # noqa: BLE001 - any failure to connect means: not checked
            return None, f"no Ray cluster reachable at {address} ({type(exc).__name__})"
    try:
        import torch

        return torch.cuda.device_count(), "this machine"
    except ImportError:
        return None, "torch is not installed"


def check_gpus(recipe: Recipe, ray_address: str | None) -> list[Finding]:
    """GPUs of the cluster at `ray_address` (or $RAY_ADDRESS), else of this machine, against engine.nodes*gpus_per_node."""
    needed = recipe.engine.nodes * recipe.engine.gpus_per_node
    field = "engine.gpus_per_node"
    address = ray_address or os.environ.get("RAY_ADDRESS")
    if address is not None and address.startswith(("http://", "https://")):
        return [Finding(GPUS_AT_JOB_START, field, f"GPUs not checked: {address} is a Ray job server, and verl checks "
                        f"the cluster's GPUs when the job starts; the run needs {needed}", "not_checked")]
    found, where = cluster_gpus(address)
    if found is None:
        return [Finding("gpus.not_checked", field, f"GPUs not checked ({where}); the run needs {needed}", "not_checked")]
    if found >= needed:
        return []
    if address is None:
        return [Finding("gpus.none_here", field, f"this machine has {found} GPUs and no Ray cluster is reachable; "
                        f"the run needs {needed} (run on a GPU node, or start a Ray cluster and pass --ray-address)",
                        "not_checked")]
    return [Finding("gpus.too_few", field,
                    f"the run needs {needed} GPUs (engine.nodes*engine.gpus_per_node) but {where} has {found}; "
                    "start the workers (`ray start --address=HEAD:6379`) or lower engine.nodes/gpus_per_node")]


def check_cpu_memory(recipe: Recipe) -> list[Finding]:
    """A CPU run holds the target several times over in float32: refuse one that cannot fit in memory."""
    from s2lpo_cli.verl_ext.cpu.memory import estimate_bytes, memory_available

    model_dir = local_model_dir(recipe.models.target)
    if model_dir is None:
        return [Finding("cpu.memory_not_checked", "models.target", f"{recipe.models.target} is not a local folder: "
                        "the CPU run's memory was not checked", "not_checked")]
    need, available = estimate_bytes(model_dir, recipe.engine.nodes * recipe.engine.gpus_per_node), memory_available()
    if need <= available:
        return []
    return [Finding("cpu.memory", "models.target",
                    f"a CPU run of {recipe.models.target} needs about {need / 2**30:.1f} GiB (float32 weights, "
                    f"gradients and Adam state, reference and rollout copies, verl's processes) but this machine "
                    f"has {available / 2**30:.1f} GiB available; CPU mode is for tiny models (s2lpo tiny init)")]


def check_context(recipe: Recipe, model_dir: Path) -> list[Finding]:
    need = recipe.data.max_prompt_tokens + recipe.rollout.max_response_tokens
    context = model_context(model_dir)
    if context is None or need <= context:
        return []
    return [Finding("model.context", "rollout.max_response_tokens",
                    f"prompt {recipe.data.max_prompt_tokens} + response {recipe.rollout.max_response_tokens} = "
                    f"{need} tokens > the context of {recipe.models.target} ({context})")]


def verl_version_problem(installed: str) -> str | None:
    """The agent loop and the sampler rely on verl 0.9.1 internals (ct_build_initial_tokens, per-session
    session_id, AgentLoopOutput's fields, the V1 ReplayBuffer's hooks)."""
    from packaging.version import Version

    low, high = VERL_VERSIONS
    if Version(low) <= Version(installed) < Version(high):
        return None
    return f"verl {installed} is installed; s2lpo's agent loop and sampler need verl>={low},<{high}: pip install 's2lpo[verl]'"


def check_modules() -> list[Finding]:
    """The modules verl will load from s2lpo: the reward function (imported) and the agent loop."""
    findings = []
    try:
        reward = importlib.import_module(REWARD_MODULE.removeprefix("pkg://"))
        getattr(reward, REWARD_FUNCTION)
    except Exception as exc:  # noqa: BLE001 - report whatever keeps verl from loading it
        findings.append(Finding("verl.reward_module", REWARD_MODULE, f"does not import ({type(exc).__name__}: {exc})"))
    if importlib.util.find_spec("verl") is not None:
        problem = verl_version_problem(importlib.metadata.version("verl"))
        if problem:
            findings.append(Finding("verl.version", "verl", problem))
        if importlib.util.find_spec("transfer_queue") is None:
            findings.append(Finding("verl.transfer_queue", "transfer_queue", "verl's V1 trainer needs TransferQueue, "
                                    "which is not installed: pip install 's2lpo[verl]'"))
    return findings


def check_agent_loop_imports() -> list[Finding]:
    """Import the agent loop as a verl worker will (slow: it imports verl's rollout stack)."""
    try:
        importlib.import_module("s2lpo_cli.verl_ext.agent_loop")
    except Exception as exc:  # noqa: BLE001
        return [Finding("verl.agent_loop", "s2lpo_cli.verl_ext.agent_loop",
                        f"does not import ({type(exc).__name__}: {exc})")]
    return []


def check_verl(recipe: Recipe, ray_address: str | None, *, strict: bool) -> tuple[TrainingData, list[Finding]]:
    """Every check of a verl run; `strict` (a launch) also imports the agent loop and fetches a hub model's tokenizer.

    The data checks are the embedded trainer's (`check_training_data`), with verl's draw rule: no reuse.
    """
    findings = check_engine_options(recipe)
    findings += check_composes(verl_overrides(recipe, VerlPaths.for_run(recipe.output.run_dir)))
    findings += check_cpu_memory(recipe) if on_cpu(recipe) else check_gpus(recipe, ray_address)
    model_dir = local_model_dir(recipe.models.target, download=strict)
    tokenizer = None
    if model_dir is None:
        findings.append(Finding("model.not_local", "models.target",
                                f"{recipe.models.target} is not available locally; its context length, tokenizer "
                                "identity and prompt lengths and token ids not checked", "not_checked"))
    else:
        from s2lpo_cli.engines.loading import load_tokenizer

        findings += check_context(recipe, model_dir)
        tokenizer = load_tokenizer(str(model_dir))
    findings += check_modules()
    if strict:
        findings += check_agent_loop_imports()
    data, found = check_training_data(recipe, tokenizer, reuse=False, strict=strict)
    return data, findings + found + check_validation(recipe, strict=strict, engine="verl", tokenizer=tokenizer)
